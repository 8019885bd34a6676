/**
 * The last pipeline stage: streams an authorized request to its route's upstream and turns
 * every upstream failure into a coded answer. Plain HTTP goes through undici's `Pool.dispatch`
 * (`WebExchange`): measured side by side as bare proxies (`npm run bench:engines`), it forwards
 * a small response for about a third of http-proxy-3's CPU. Websocket handshakes go through
 * http-proxy-3, which hands the upgraded sockets over.
 *
 * - The path sent is `target.path` (joined onto the upstream URL's own path) + `target.search`:
 *   the same normalized form the router and the policy read.
 * - Headers: see `buildUpstreamHeaders`; `Host` is the upstream's unless `preserve_host`.
 * - `connect_timeout` bounds the TCP connect (→ 504 `upstream_timeout`, as nginx does);
 *   `timeout` bounds the wait for response headers once the request was fully sent (→ 504).
 *   Refused, unresolvable or TLS-failing upstreams → 502 `upstream_unreachable`; a reset before
 *   the response → 502 `upstream_reset`; a reset mid-response destroys the client connection
 *   (a truncated body must not look complete) and reports `upstream_reset`.
 * - Response heads are copied by us, so hop-by-hop headers are dropped and node frames the
 *   client response itself.
 * - Bodies stream both ways with backpressure; a large response chunk's memory is given back
 *   as soon as it is written (body-pump.ts `release`).
 */
import type {
  ClientRequest,
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer, type ProxyServer, type ServerOptions } from 'http-proxy-3';
import type { Dispatcher } from 'undici';
import type { RequestTarget } from '../http/request-target.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import { type AgentPool, createAgentPool } from './agent-pool.ts';
import { pumpBody, RELEASE_MIN_BYTES, release } from './body-pump.ts';
import { createFlight, type Flight } from './flight.ts';
import { buildUpstreamHeaders } from './forwarded-headers.ts';
import { connectionTokens, isHopByHop } from './hop-by-hop.ts';
import type { ProxyContext } from './proxy-context.ts';
import { errorCode, reasonForUpstreamError } from './upstream-errors.ts';
import { createUpstreamPools, type UpstreamPools } from './upstream-pools.ts';

export interface UpstreamProxy {
  /** stream req to route.upstream; `headers` are set on the upstream request (identity headers), inbound ones already stripped by the caller */
  web(req: IncomingMessage, res: ServerResponse, route: CompiledRoute, ctx: ProxyContext): void;
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, route: CompiledRoute, ctx: ProxyContext): void;
  /** destroys pooled upstream connections; in-flight exchanges are not waited for */
  close(): void;
}

export interface UpstreamProxyOptions {
  logger?: { warn(obj: object, msg: string): void };
}

/** What every request to one upstream shares: its path prefix, own query and TLS server name. */
interface UpstreamBase {
  /** the upstream's path without its trailing slash ('' for '/') */
  readonly prefix: string;
  /** the upstream's own query, without '?' */
  readonly query: string;
  /** SNI name: the upstream host unless it is an IP address or plain http */
  readonly servername: string | undefined;
}
const bases = new WeakMap<URL, UpstreamBase>();
function upstreamBase(upstream: URL): UpstreamBase {
  let base = bases.get(upstream);
  if (base === undefined) {
    const path = upstream.pathname;
    base = {
      prefix: path === '/' ? '' : path.replace(/\/$/, ''),
      query: upstream.search.slice(1),
      servername:
        upstream.protocol === 'https:' && isIP(upstream.hostname) === 0 ? upstream.hostname : undefined,
    };
    bases.set(upstream, base);
  }
  return base;
}

/**
 * The path and query sent upstream: the upstream URL's path prefix + the normalized target path,
 * and the upstream's own query joined with the request's. Built as a string, with no URL parse
 * per request. (The target is canonical, so a URL would not re-encode it; a leading '?' of the
 * joined query is dropped as the URL `search` setter drops it.)
 */
export function upstreamPath(upstream: URL, target: RequestTarget): string {
  const { prefix, query: own } = upstreamBase(upstream);
  const theirs = target.search.length > 1 ? target.search.slice(1) : '';
  let query = own && theirs ? `${own}&${theirs}` : own || theirs;
  if (query.charCodeAt(0) === 63) query = query.slice(1);
  const path = prefix + target.path;
  return query === '' ? path : `${path}?${query}`;
}

/**
 * The flight of an exchange rides on its request, under private symbols: a property read per
 * proxy event instead of a WeakMap (ephemeron table) lookup.
 */
const FLIGHT = Symbol('gatehouse.flight');
const CHUNKED = Symbol('gatehouse.chunked');
const NO_HOP_OPTIONS = {};
type Carrier = IncomingMessage & { [FLIGHT]?: Flight; [CHUNKED]?: string };
const flightOf = (req: IncomingMessage): Flight | undefined => (req as Carrier)[FLIGHT];

type Kind = 'web' | 'ws';
type Warn = (flight: Flight, err: unknown, msg: string) => void;

/** Why an exchange's upstream side was aborted by us: never reported as the upstream's fault. */
const ABORTED = Object.freeze(Object.assign(new Error('exchange ended'), { code: 'GATEHOUSE_ABORTED' }));

/**
 * Two engines, each where it measured better (`npm run bench:engines`): undici pools for
 * requests without a body (the bulk of traffic: about a third of http-proxy-3's CPU per small
 * response), http-proxy-3 for requests with one (as fast for uploads, and their body is pumped
 * by body-pump.ts, which frees each chunk once written – undici holds an upload's chunks until
 * the GC) and for websocket handshakes. Handlers are bound once, here.
 */
class UpstreamProxyImpl implements UpstreamProxy {
  readonly #http3: ProxyServer;
  readonly #pools: UpstreamPools = createUpstreamPools();
  readonly #agents: AgentPool = createAgentPool();
  readonly #logger: UpstreamProxyOptions['logger'];
  #closed = false;

  constructor(opts: UpstreamProxyOptions) {
    this.#logger = opts.logger;
    const proxy = createProxyServer({ xfwd: false, secure: true, followRedirects: false });
    this.#http3 = proxy;
    // http-proxy-3's `deleteLength` pass gives a DELETE or OPTIONS without Content-Length a
    // `Content-Length: 0` and drops its Transfer-Encoding, then pipes the chunked body anyway: the
    // upstream reads that body as a second request on the connection (request smuggling past
    // routing and policy). Restore the framing right after that pass; its `after()` inserts
    // before, so this hooks in before the pass that follows it.
    proxy.before('web', 'timeout', restoreFraming);
    proxy.on('error', (_err, req, clientSide) => this.#onClientError(req, clientSide));
    proxy.on('proxyReq', (proxyReq, req) => this.#onProxyReq(proxyReq, req));
    proxy.on('proxyReqWs', (proxyReq, req) => this.#onProxyReqWs(proxyReq, req));
    proxy.on('proxyRes', (proxyRes, req, res) => this.#onProxyRes(proxyRes, req, res));
  }

  web(req: IncomingMessage, res: ServerResponse, route: CompiledRoute, ctx: ProxyContext): void {
    const flight = this.#flight('web', req, res, route, ctx);
    const headers = this.#head('web', flight, req, route, ctx);
    if (headers === undefined) return;
    const te = headers['transfer-encoding'];
    const length = headers['content-length'];
    if (te !== undefined || (length !== undefined && length !== '0')) {
      this.#webWithBody(req, res, route, ctx, headers, te);
      return;
    }
    req.resume(); // nothing to read, but 'end' must still come
    const exchange = new WebExchange(flight, res, this.#logger, this.#warn);
    try {
      this.#pools.get(route.upstream, route.config.connect_timeout).dispatch(
        {
          path: upstreamPath(route.upstream, ctx.target),
          method: req.method ?? 'GET',
          headers: headers as Record<string, string | string[]>,
          body: null,
        },
        exchange,
      );
    } catch (err) {
      // undici refuses a head it cannot send (a header value node accepted): never a crash
      this.#warn(flight, err, 'upstream request could not be prepared');
      flight.fail('internal_error');
    }
  }

  ws(req: IncomingMessage, socket: Duplex, head: Buffer, route: CompiledRoute, ctx: ProxyContext): void {
    const flight = this.#flight('ws', req, socket, route, ctx);
    const headers = this.#head('ws', flight, req, route, ctx);
    if (headers === undefined) return;
    this.#http3.ws(req, socket, head, this.#http3Options(req, route, ctx, headers, false), this.#wsFailed);
  }

  close(): void {
    this.#closed = true;
    this.#pools.destroy();
    this.#agents.destroy();
  }

  /** A request with a body, through http-proxy-3: the body is pumped with body-pump.ts. */
  #webWithBody(
    req: IncomingMessage,
    res: ServerResponse,
    route: CompiledRoute,
    ctx: ProxyContext,
    headers: OutgoingHttpHeaders,
    te: OutgoingHttpHeaders[string],
  ): void {
    if (te !== undefined && headers['content-length'] === undefined) (req as Carrier)[CHUNKED] = String(te);
    const options = this.#http3Options(req, route, ctx, headers, this.#agents.get(route.upstream));
    // http-proxy-3 sends the request body with `(options.buffer || req).pipe(proxyReq)`.
    options.buffer = {
      pipe: (proxyReq: ClientRequest) => {
        pumpBody(req, proxyReq);
        return proxyReq;
      },
    } as unknown as ServerOptions['buffer'];
    this.#http3.web(req, res, options, this.#webFailed);
  }

  /** The head goes on `req`: http-proxy-3 builds the upstream request from it. */
  #http3Options(
    req: IncomingMessage,
    route: CompiledRoute,
    ctx: ProxyContext,
    headers: OutgoingHttpHeaders,
    agent: ServerOptions['agent'],
  ): ServerOptions {
    req.headers = headers as IncomingHttpHeaders;
    // The path is taken verbatim (`toProxy`) after the upstream's origin (`prependPath: false`):
    // http-proxy-3 would otherwise parse three URLs per request.
    req.url = upstreamPath(route.upstream, ctx.target);
    const { servername } = upstreamBase(route.upstream);
    return {
      target: route.upstream,
      prependPath: false,
      toProxy: true,
      changeOrigin: !route.config.preserve_host,
      agent,
      connectTimeout: route.config.connect_timeout,
      selfHandleResponse: true,
      // http-proxy-3 builds the outgoing TLS options on this object, so it must be fresh. SNI
      // and certificate checks use the upstream host even when the client's Host is preserved.
      ssl: servername !== undefined ? { servername } : {},
    };
  }

  #flight(
    kind: Kind,
    req: IncomingMessage,
    sink: ServerResponse | Duplex,
    route: CompiledRoute,
    ctx: ProxyContext,
  ) {
    const flight = createFlight(kind, req, sink, route, ctx, (err) =>
      this.#warn(flight, err, 'onDone threw'),
    );
    (req as Carrier)[FLIGHT] = flight;
    return flight;
  }

  /** onProxyReq (http-proxy-3, a request with a body): the upstream request has a socket. */
  #onProxyReq(proxyReq: ClientRequest, req: IncomingMessage): void {
    const flight = flightOf(req);
    if (!flight) return;
    let proxyRes: IncomingMessage | undefined;
    flight.abortUpstream = () => {
      proxyReq.destroy();
      proxyRes?.destroy();
    };
    proxyReq.once('response', (r: IncomingMessage) => {
      proxyRes = r;
    });
    if (flight.settled) proxyReq.destroy();
    // The response clock starts once the upstream has the whole request: a large upload is
    // paced by the client, not the upstream.
    else if (proxyReq.writableFinished) flight.armTimeout();
    else proxyReq.on('finish', () => flight.armTimeout());
  }

  /** onProxyRes (http-proxy-3): the upstream answered; copy its head, then stream its body. */
  #onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse): void {
    const flight = flightOf(req);
    if (!flight || flight.settled || flight.failed || res.headersSent || res.destroyed) {
      proxyRes.resume();
      proxyRes.destroy();
      return;
    }
    flight.answered(proxyRes.statusCode ?? 502);
    if (!copyResponseHead(flight, proxyRes.statusCode ?? 502, proxyRes.headers, res, this.#warn)) {
      proxyRes.destroy();
      return;
    }
    // The client connection goes down when the upstream dies mid-body; 'close' fires before
    // `res` closes, so a reset is recorded first and the outcome names it.
    proxyRes.on('close', () => {
      if (proxyRes.complete) return;
      midBodyReset(flight, this.#logger);
      res.destroy();
    });
    proxyRes.on('error', () => res.destroy());
    pumpBody(proxyRes, res, proxyRes.socket);
  }

  readonly #webFailed = (err: Error, req: IncomingMessage): void => {
    const flight = flightOf(req);
    if (!flight) return;
    if (!flight.failed && !flight.settled) this.#warn(flight, err, 'upstream request failed');
    flight.fail(reasonForUpstreamError(err));
  };

  /**
   * The upstream request head, or undefined when the exchange was already answered (shutting
   * down, a header that cannot go).
   */
  #head(kind: Kind, flight: Flight, req: IncomingMessage, route: CompiledRoute, ctx: ProxyContext) {
    if (this.#closed) {
      flight.fail('shutting_down');
      return undefined;
    }
    try {
      const headers = buildUpstreamHeaders(
        req.headers,
        {
          clientIp: ctx.clientIp,
          peerIp: req.socket.remoteAddress ?? '',
          trustedPeer: ctx.trustedPeer === true,
          proto: ctx.proto,
          host: ctx.host,
          requestId: ctx.requestId,
          websocket: kind === 'ws',
        },
        ctx.headers,
      );
      if (!route.config.preserve_host) headers.host = route.upstream.host;
      return headers;
    } catch (err) {
      this.#warn(flight, err, 'upstream request could not be prepared');
      flight.fail('internal_error');
      return undefined;
    }
  }

  #onProxyReqWs(proxyReq: ClientRequest, req: IncomingMessage): void {
    const flight = flightOf(req);
    if (!flight) return;
    flight.abortUpstream = () => proxyReq.destroy();
    flight.armTimeout();
    proxyReq.once('upgrade', () => flight.answered(101));
    proxyReq.once('response', (proxyRes) => flight.answered(proxyRes.statusCode ?? 502));
  }

  readonly #wsFailed = (err: Error, req: IncomingMessage): void => {
    const flight = flightOf(req);
    if (!flight) return;
    if (!flight.failed && !flight.settled) this.#warn(flight, err, 'upstream websocket failed');
    flight.fail(reasonForUpstreamError(err));
  };

  /**
   * Client socket errors on a websocket reach the 'error' event (http-proxy-3 emits them there);
   * an 'error' without a listener would throw and crash the process. They are the client's doing,
   * so no upstream reason is recorded.
   */
  #onClientError(req: IncomingMessage, clientSide: ServerResponse | Duplex): void {
    const flight = flightOf(req);
    if (flight) flight.abandon();
    else clientSide.destroy();
  }

  readonly #warn: Warn = (flight, err, msg) => {
    // Only the code: node errors carry addresses and stacks that belong to no log line.
    this.#logger?.warn(
      // `error_code`, not `code`: the logger redacts a top-level `code` (authorization codes), which
      // erased the one clue an operator gets (issue-10).
      { route: flight.route.name, request_id: flight.ctx.requestId, error_code: errorCode(err) },
      msg,
    );
  };
}

/**
 * One plain-HTTP exchange as undici drives it: request sent → response head (copied, hop-by-hop
 * dropped) → body chunks with backpressure → end; an error before the head is the flight's
 * coded answer, one after it destroys the client connection. A class with methods, so an
 * exchange allocates one object, not a closure per callback.
 */
class WebExchange implements Dispatcher.DispatchHandler {
  readonly #flight: Flight;
  readonly #res: ServerResponse;
  readonly #logger: UpstreamProxyOptions['logger'];
  readonly #warn: Warn;
  #controller: Dispatcher.DispatchController | undefined = undefined;

  constructor(flight: Flight, res: ServerResponse, logger: UpstreamProxyOptions['logger'], warn: Warn) {
    this.#flight = flight;
    this.#res = res;
    this.#logger = logger;
    this.#warn = warn;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    const flight = this.#flight;
    if (flight.settled || flight.failed) controller.abort(ABORTED);
    else flight.abortUpstream ??= this.#abort;
  }

  readonly #abort = (): void => {
    this.#controller?.abort(ABORTED);
  };

  /** The response clock starts once the upstream has the whole request. */
  onRequestSent(): void {
    this.#flight.armTimeout();
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx: informational, the real head follows
    const flight = this.#flight;
    const res = this.#res;
    if (flight.settled || flight.failed || res.headersSent || res.destroyed) {
      controller.abort(ABORTED);
      return;
    }
    flight.answered(statusCode);
    copyResponseHead(flight, statusCode, headers, res, this.#warn);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#res;
    if (res.writableEnded) return;
    const ok = chunk.length >= RELEASE_MIN_BYTES ? res.write(chunk, () => release(chunk)) : res.write(chunk);
    if (!ok) {
      controller.pause();
      res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const flight = this.#flight;
    if (err === ABORTED || flight.settled || flight.failed) return; // our own teardown
    if (!this.#res.headersSent) {
      this.#warn(flight, err, 'upstream request failed');
      flight.fail(reasonForUpstreamError(err));
      return;
    }
    midBodyReset(flight, this.#logger);
    this.#res.destroy();
  }
}

/**
 * copyResponseHead: status and end-to-end headers. Hop-by-hop headers describe the upstream
 * connection, not the message: never copied (node frames the client response itself). false
 * when a header was refused (the exchange failed).
 */
function copyResponseHead(
  flight: Flight,
  statusCode: number,
  headers: Record<string, string | string[] | undefined>,
  res: ServerResponse,
  warn: Warn,
): boolean {
  const listed = connectionTokens(headers.connection);
  try {
    res.statusCode = statusCode;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined || isHopByHop(name, listed, NO_HOP_OPTIONS)) continue;
      // Gatehouse may already have set cookies (a refreshed session): keep both sets.
      const own = name === 'set-cookie' ? res.getHeader('set-cookie') : undefined;
      res.setHeader(
        name,
        own ? [...([] as string[]).concat(own as string[]), ...([] as string[]).concat(value)] : value,
      );
    }
    return true;
  } catch (err) {
    warn(flight, err, 'upstream response header refused');
    flight.fail('upstream_unreachable');
    return false;
  }
}

/** The upstream died mid-body: the client only sees a truncated body; the operator gets a line. */
function midBodyReset(flight: Flight, logger: UpstreamProxyOptions['logger']): void {
  if (flight.reason !== undefined) return;
  flight.reason = 'upstream_reset';
  logger?.warn(
    { route: flight.route.name, request_id: flight.ctx.requestId, reason: 'upstream_reset' },
    'upstream closed the connection mid-response',
  );
}

/** Undoes http-proxy-3's `deleteLength` for a chunked DELETE/OPTIONS (see the constructor). */
function restoreFraming(req: IncomingMessage): undefined {
  const te = (req as Carrier)[CHUNKED];
  if (te !== undefined) {
    delete req.headers['content-length'];
    req.headers['transfer-encoding'] = te;
  }
  return undefined;
}

export function createUpstreamProxy(opts: UpstreamProxyOptions = {}): UpstreamProxy {
  return new UpstreamProxyImpl(opts);
}
