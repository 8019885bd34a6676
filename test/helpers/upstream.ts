/**
 * An echo upstream for integration tests: it records every request and answers with what it
 * received, and has endpoints that misbehave on purpose.
 *
 * Special endpoints are matched on the last path segment (`/base/__big` works too).
 * - any path: `{ method, url, headers, bodyBytes, bodySha256 }` as JSON (the body is hashed while
 *   streaming, never buffered);
 * - `/__big?bytes=N`: N bytes of a repeating pattern, written with backpressure;
 * - `/__slow?ms=N`: answers after N ms; `/__hang`: never answers (until close);
 * - `/__reset`: sends headers and part of a body, then destroys the socket;
 *   `/__reset-early`: destroys the socket before any answer;
 * - `/__slow-read?pauseMs=N`: reads the request body with pauses (upload backpressure);
 * - `/__respond?status=N&header=Name:Value&…`: that status and those response headers;
 * - websocket upgrade on any path: echoes every message back.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** the proxy side's port: equal ports on two requests mean a reused connection */
  remotePort: number | undefined;
  /** updated as the body streams in */
  bodyBytes: number;
  /** set once the body ended */
  bodySha256?: string;
  websocket: boolean;
}

export interface EchoUpstream {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** The bytes `/__big` sends, for clients that want to check them. */
export const BIG_CHUNK = Buffer.alloc(64 * 1024, 'gatehouse-');

function record(req: IncomingMessage, websocket: boolean): RecordedRequest {
  return {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: { ...req.headers },
    rawHeaders: [...req.rawHeaders],
    remotePort: req.socket.remotePort,
    bodyBytes: 0,
    websocket,
  };
}

function writeBig(res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const chunk = total - sent >= BIG_CHUNK.length ? BIG_CHUNK : BIG_CHUNK.subarray(0, total - sent);
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

function respond(res: ServerResponse, query: URLSearchParams): void {
  const status = Number(query.get('status') ?? '200');
  for (const header of query.getAll('header')) {
    const colon = header.indexOf(':');
    res.appendHeader(header.slice(0, colon), header.slice(colon + 1));
  }
  res.statusCode = status;
  res.end('custom');
}

/** `maxHeaderSize`: an upstream that takes more request headers than node's 16 KiB default. */
export async function startEchoUpstream(opts: { maxHeaderSize?: number } = {}): Promise<EchoUpstream> {
  const requests: RecordedRequest[] = [];
  const server = createServer({ maxHeaderSize: opts.maxHeaderSize ?? 16_384 }, (req, res) => {
    const entry = record(req, false);
    requests.push(entry);
    const url = new URL(req.url ?? '/', 'http://upstream.invalid');
    const hash = createHash('sha256');
    // `/__slow-read?pauseMs=N` reads the body slowly, so a proxy feels backpressure on uploads.
    const pauseMs = url.pathname.endsWith('/__slow-read')
      ? Number(url.searchParams.get('pauseMs') ?? '10')
      : 0;
    let chunks = 0;
    req.on('data', (chunk: Buffer) => {
      entry.bodyBytes += chunk.length;
      hash.update(chunk);
      if (pauseMs > 0 && ++chunks % 64 === 0) {
        req.pause();
        setTimeout(() => req.resume(), pauseMs).unref();
      }
    });
    req.on('end', () => {
      entry.bodySha256 = hash.digest('hex');
      // Dispatch on the last segment, so a route whose upstream has a path prefix still reaches them.
      switch (url.pathname.slice(url.pathname.lastIndexOf('/'))) {
        case '/__big':
          return writeBig(res, Number(url.searchParams.get('bytes') ?? '0'));
        case '/__slow':
          setTimeout(() => res.end('slow'), Number(url.searchParams.get('ms') ?? '100')).unref();
          return;
        case '/__hang':
          return;
        case '/__reset':
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1_000_000 });
          res.write('partial body before a reset');
          setTimeout(() => res.socket?.destroy(), 20).unref();
          return;
        case '/__reset-early':
          req.socket.destroy();
          return;
        case '/__respond':
          return respond(res, url.searchParams);
        default: {
          const body = JSON.stringify({
            method: entry.method,
            url: entry.url,
            headers: entry.headers,
            bodyBytes: entry.bodyBytes,
            bodySha256: entry.bodySha256,
          });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(body);
        }
      }
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    requests.push(record(req, true));
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
