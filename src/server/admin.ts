/**
 * The admin listener: `/healthz` (the process is alive), `/readyz` (config compiled, IdP
 * discovery done, bearer keys loaded, not draining) and `/metrics` (Prometheus). It binds to
 * loopback by default: nothing here is for the public.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Runtime } from './runtime.ts';

export async function serveAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  rt: Runtime,
  state: { draining(): boolean },
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed\n');
  switch (path) {
    case '/healthz':
      return plain(res, 200, 'ok\n');
    case '/readyz': {
      if (state.draining()) return plain(res, 503, 'draining\n');
      const ready = rt.ready();
      return plain(
        res,
        ready ? 200 : 503,
        ready ? 'ready\n' : 'not ready: waiting for IdP discovery or signing keys\n',
      );
    }
    case '/metrics': {
      try {
        const body = await rt.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': rt.metrics.registry.contentType });
        res.end(body);
      } catch (err) {
        rt.log.error({ err }, 'metrics collection failed');
        plain(res, 500, 'metrics unavailable\n');
      }
      return;
    }
    default:
      return plain(res, 404, 'not found\n');
  }
}

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
