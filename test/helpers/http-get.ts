/**
 * A GET through whatever front a test runs (nginx, Caddy, Gatehouse), body read as text; and
 * the request headers the echo upstream reported receiving, from such a body.
 */
import { request } from 'undici';

export async function getText(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

/** The headers the echo upstream received, as it reported them in its JSON body. */
export function echoedHeaders(text: string): Record<string, string> {
  return (JSON.parse(text) as { headers: Record<string, string> }).headers;
}
