/**
 * Shared checks of the fault tests (issue 10): every fault must leave no unhandled rejection,
 * a log line with a reason, and a metric; these read the real admin listener and log file.
 */
import { request } from 'undici';

/** Records unhandled rejections from `watch()` until `stop()`; `stop()` returns them. */
export function watchUnhandled(): { stop(): unknown[]; readonly seen: unknown[] } {
  const seen: unknown[] = [];
  const on = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', on);
  return {
    seen,
    stop() {
      process.off('unhandledRejection', on);
      return seen;
    },
  };
}

/** The value of one sample of `/metrics` (0 when absent); labels match as a subset. */
export async function metric(
  adminUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await request(`${adminUrl}/metrics`);
  const text = await res.body.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}
