/**
 * The admin listener: `/healthz` (the process is alive), `/readyz` (config compiled, IdP
 * discovery done, bearer keys loaded, not draining), `/metrics` (Prometheus) and, with
 * `admin.live_view`, the live view: `/` (a read-only page) and `/live.json` (its data); with
 * `admin.sessions`, listing and revoking sessions (`./admin-sessions.ts`). It binds
 * to loopback by default: nothing here is for the public. One implementation serves a single
 * process and a cluster primary alike; only where readiness, metrics and the view come from
 * differs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Log } from '../observe/logger.ts';
import type { SessionAdmin } from '../session/session-admin.ts';
import { serveAdminSessions } from './admin-sessions.ts';
import { LIVE_PAGE, LIVE_PAGE_CSP } from './live-page.ts';
import type { LiveView } from './live-view.ts';

export interface AdminSource {
  /** `'ready'`, or why not */
  ready(): Promise<string> | string;
  metrics(): Promise<string>;
  /** the live view's data; absent: `admin.live_view` is off, `/` and `/live.json` are 404 */
  live?(): Promise<LiveView> | LiveView;
  readonly contentType: string;
  readonly log: Log;
  /** `/sessions` and `/sessions/revoke`; absent: `admin.sessions` is off (or a cluster primary) */
  sessions?(): SessionAdmin | undefined;
}

/** Headers of every live-view answer: never cached, never framed, never sniffed. */
const LIVE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

export async function serveAdmin(req: IncomingMessage, res: ServerResponse, src: AdminSource): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (await serveAdminSessions(req, res, path, src.sessions?.(), src.log)) return;
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
    case '/':
    case '/live.json':
      if (!src.live) return plain(res, 404, 'not found\n');
      if (!liveAllowed(req))
        return plain(res, 403, 'the live view answers only on localhost or an IP address\n');
      if (path === '/') {
        res.writeHead(200, {
          ...LIVE_HEADERS,
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': LIVE_PAGE_CSP,
        });
        res.end(LIVE_PAGE);
        return;
      }
      try {
        const body = JSON.stringify(await src.live());
        res.writeHead(200, { ...LIVE_HEADERS, 'content-type': 'application/json' });
        res.end(body);
      } catch (err) {
        src.log.error({ err }, 'live view collection failed');
        plain(res, 500, 'live view unavailable\n');
      }
      return;
    default:
      return plain(res, 404, 'not found\n');
  }
}

/**
 * The live view shows who was decided what: a page on another site must not read it. A browser
 * tells a cross-site request by `Sec-Fetch-Site`; a DNS-rebinding page (a name of the attacker's
 * that resolves to 127.0.0.1) sends its own name in `Host`. So the view answers a Host that is
 * `localhost` or an IP address (ssh -L, kubectl port-forward and the listen address itself), and
 * no cross-site fetch.
 */
export function liveAllowed(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const host = req.headers.host;
  if (host === undefined) return true; // HTTP/1.0 from a script on the host: no browser
  const name = host
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0;
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
