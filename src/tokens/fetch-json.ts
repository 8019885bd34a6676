/**
 * One bounded JSON request to an IdP (discovery, JWKS, introspection) through the shared undici
 * dispatcher: a deadline for the whole exchange and a cap on the body, so a slow or hostile
 * endpoint costs at most `timeout` ms and `maxBytes` of memory.
 */
import { type Dispatcher, request } from 'undici';

export interface JsonResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** the parsed body; `undefined` when it was not JSON */
  readonly body: unknown;
}

export interface FetchJsonOptions {
  dispatcher: Dispatcher;
  /** ms for connect + headers + body */
  timeout: number;
  /** body cap in bytes; default 512 KiB */
  maxBytes?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

/**
 * GET (or POST) `url` and parse the body as JSON. Rejects (with a plain `Error` whose message is
 * safe to log) on network failure, timeout or an oversized body; any HTTP status resolves.
 */
export async function fetchJson(url: string, opts: FetchJsonOptions): Promise<JsonResponse> {
  const maxBytes = opts.maxBytes ?? 512 * 1024;
  const res = await request(url, {
    dispatcher: opts.dispatcher,
    method: opts.method ?? 'GET',
    headers: { accept: 'application/json', ...opts.headers },
    body: opts.body ?? null,
    signal: AbortSignal.timeout(opts.timeout),
    headersTimeout: opts.timeout,
    bodyTimeout: opts.timeout,
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      res.body.destroy();
      throw new Error(`response body exceeds ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body };
}

/** A plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `Cache-Control: max-age` in ms, or `undefined` when absent; `no-store`/`no-cache` give 0. */
export function maxAgeMs(cacheControl: string | string[] | undefined): number | undefined {
  const value = Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl;
  if (!value) return undefined;
  if (/(?:^|,)\s*no-(?:store|cache)\b/i.test(value)) return 0;
  const m = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?/i.exec(value);
  return m ? Number(m[1]) * 1000 : undefined;
}
