/**
 * A bare reverse proxy on one forwarding engine, for the engine comparison (`engines.ts`): no
 * routing, no auth, no audit – only what every engine must do the same way: drop hop-by-hop
 * headers both ways, set the upstream's Host, stream bodies both ways with backpressure, 502 on
 * an upstream failure.
 *
 * - `http-proxy-3`: the library Gatehouse forwards with today (as `bare-proxy.ts`);
 * - `undici`: undici's `Pool.dispatch`, the low-level handler API (undici is already Gatehouse's
 *   outbound client);
 * - `node-http`: `node:http`'s client with a keep-alive agent, piped.
 *
 * `ENGINE=… PORT=… UPSTREAM=http://127.0.0.1:… node bench/macro/engine-proxy.ts`
 */
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { Pool } from 'undici';
import { createAgentPool } from '../../src/proxy/agent-pool.ts';

const upstream = new URL(String(process.env.UPSTREAM));
const engine = process.env.ENGINE ?? 'http-proxy-3';
const CONNECTIONS = 256;

/** RFC 9110 §7.6.1, plus the names proxies have always dropped. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>) {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function badGateway(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else {
    res.writeHead(502, { 'content-length': '0' });
    res.end();
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function httpProxy3(): Handler {
  const proxy = createProxyServer({ target: upstream.href, agent: createAgentPool().get(upstream) });
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res) badGateway(res);
    else res.destroy();
  });
  return (req, res) => proxy.web(req, res);
}

function undiciDispatch(): Handler {
  const pool = new Pool(upstream.origin, { connections: CONNECTIONS, keepAliveTimeout: 60_000 });
  return (req, res) => {
    const headers = endToEnd(req.headers);
    headers.host = upstream.host;
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.dispatch(
      { path: req.url ?? '/', method: req.method ?? 'GET', headers, body: hasBody ? req : null },
      {
        onRequestStart(controller) {
          res.once('close', () => {
            if (!res.writableFinished) controller.abort(new Error('client closed'));
          });
        },
        onResponseStart(_controller, statusCode, responseHeaders) {
          res.writeHead(statusCode, endToEnd(responseHeaders));
        },
        onResponseData(controller, chunk) {
          if (!res.write(chunk)) {
            controller.pause();
            res.once('drain', () => controller.resume());
          }
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError() {
          badGateway(res);
        },
      },
    );
  };
}

function nodeHttp(): Handler {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const { hostname, port } = upstream;
  return (req, res) => {
    const headers = endToEnd(req.headers);
    headers.host = upstream.host;
    const up = request({ hostname, port, path: req.url, method: req.method, headers, agent }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, endToEnd(ures.headers));
      ures.pipe(res);
    });
    up.on('error', () => badGateway(res));
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };
}

const ENGINES: Record<string, () => Handler> = {
  'http-proxy-3': httpProxy3,
  undici: undiciDispatch,
  'node-http': nodeHttp,
};
const make = ENGINES[engine];
if (!make) throw new Error(`ENGINE must be one of ${Object.keys(ENGINES).join(', ')}`);
const handle = make();
const server = createServer({ keepAliveTimeout: 5_000 }, handle);
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
