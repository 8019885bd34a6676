/**
 * The public listener: node's HTTP(S) server with Gatehouse's limits, handing requests and
 * websocket upgrades to the pipeline with whatever runtime is live when each one arrives.
 * What never reaches the pipeline is answered here, with a bare status and no details:
 * malformed requests, oversized heads, slow clients, and CONNECT (Gatehouse is not a forward
 * proxy).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/schema.ts';
import { sendError } from '../http/send-error.ts';
import type { Log } from '../observe/logger.ts';
import { handleRequest, handleUpgrade } from '../pipeline/handle-request.ts';
import type { Runtime } from '../pipeline/runtime.ts';

export interface PublicServerHooks {
  /** the live runtime, read once per request */
  current(): Runtime;
  /** true once shutdown began: responses ask the client to close its connection */
  draining(): boolean;
  readonly log: Log;
}

export function createPublicServer(config: Config, hooks: PublicServerHooks): Server {
  const onRequest: NonNullable<Parameters<typeof createHttpServer>[1]> = (req, res) => {
    if (hooks.draining()) res.setHeader('connection', 'close');
    handleRequest(req, res, hooks.current()).catch((err: unknown) => {
      hooks.log.error({ err }, 'request failed outside the pipeline');
      sendError(req, res, 'internal_error');
    });
  };
  const tls = config.server.tls;
  const options = serverOptions(config);
  const server: Server = tls
    ? createHttpsServer({ ...options, ...tlsOptions(tls) }, onRequest)
    : createHttpServer(options, onRequest);
  server.on('upgrade', (req, socket, head) => {
    handleUpgrade(req, socket, head, hooks.current()).catch(() => socket.destroy());
  });
  server.on('connect', (_req, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    );
  });
  return server;
}

/**
 * The certificate and key, and with `client_ca_file` a request for the client's certificate.
 * `optional` lets the handshake complete without a trusted one (`rejectUnauthorized: false`), so
 * that a request with a bound token gets a 401 naming the reason instead of a bare TLS alert;
 * `tls.authorized` still says whether it chained to the CA.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
function tlsOptions(tls: NonNullable<Config['server']['tls']>): HttpsServerOptions {
  const base = { cert: readFileSync(tls.cert_file), key: readFileSync(tls.key_file) };
  if (tls.client_ca_file === undefined) return base;
  return {
    ...base,
    ca: readFileSync(tls.client_ca_file),
    requestCert: true,
    rejectUnauthorized: tls.client_certificate === 'required',
  };
}

function serverOptions(config: Config): ServerOptions {
  return {
    maxHeaderSize: config.server.max_header_size,
    headersTimeout: config.server.headers_timeout,
    // node enforces headersTimeout only when it sweeps its connections, every 30 s by default: a
    // slowloris client got headers_timeout + 30 s. Sweep at a quarter of the timeout (issue-10).
    connectionsCheckingInterval: Math.max(
      250,
      Math.min(5_000, Math.floor(config.server.headers_timeout / 4)),
    ),
    requestTimeout: 0, // bodies stream for as long as the route allows; headers are bounded above
    keepAliveTimeout: 5_000,
  };
}
