/**
 * The admin listener: `/healthz` (the process is alive), `/readyz` (config compiled, IdP
 * discovery done, bearer keys loaded, not draining) and `/metrics` (Prometheus). It binds to
 * loopback by default: nothing here is for the public. One implementation serves a single
 * process and a cluster primary alike; only where readiness and metrics come from differs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Log } from '../observe/logger.ts';

export interface AdminSource {
  /** `'ready'`, or why not */
  ready(): Promise<string> | string;
  metrics(): Promise<string>;
  readonly contentType: string;
  readonly log: Log;
}

export async function serveAdmin(req: IncomingMessage, res: ServerResponse, src: AdminSource): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed\n');
  switch (path) {
    case '/healthz':
      return plain(res, 200, 'ok\n');
    case '/readyz': {
      const state = await src.ready();
      return plain(res, state === 'ready' ? 200 : 503, `${state}\n`);
    }
    case '/metrics':
      try {
        const body = await src.metrics();
        res.writeHead(200, { 'content-type': src.contentType });
        res.end(body);
      } catch (err) {
        src.log.error({ err }, 'metrics collection failed');
        plain(res, 500, 'metrics unavailable\n');
      }
      return;
    default:
      return plain(res, 404, 'not found\n');
  }
}

/** `unix:/path` → the socket path; undefined for a TCP address. */
export function unixSocketPath(address: string): string | undefined {
  return address.startsWith('unix:') ? address.slice('unix:'.length) : undefined;
}

/** `server.listen`/`admin.listen` as `net.Server#listen` options: `{ path }` or `{ host, port }`. */
export function listenOptions(
  address: string,
): { path: string } | { host: string | undefined; port: number } {
  const path = unixSocketPath(address);
  return path === undefined ? splitListen(address) : { path };
}

/** `host:port`, `:port` or a bare port (as the config schema accepts them). */
export function splitListen(address: string): { host: string | undefined; port: number } {
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i).replace(/^\[|\]$/g, '') : undefined;
  return { host: host || undefined, port: Number(i >= 0 ? address.slice(i + 1) : address) };
}

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
