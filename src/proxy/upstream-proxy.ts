/**
 * The last pipeline stage: streams an authorized request to its route's upstream with
 * http-proxy-3 and turns every upstream failure into a coded answer. Each exchange runs the same
 * named steps: prepare → (http-proxy-3 connects) onProxyReq → onProxyRes: copyResponseHead →
 * stream; any failure on the way → fail.
 *
 * - The path sent is `target.path` (joined onto the upstream URL's own path) + `target.search`:
 *   the same normalized form the router and the policy read.
 * - Headers: see `buildUpstreamHeaders`; `Host` is the upstream's unless `preserve_host`.
 * - `connect_timeout` bounds the TCP connect (→ 504 `upstream_timeout`, as nginx does);
 *   `timeout` bounds the wait for response headers once the request was fully sent (→ 504).
 *   Refused, unresolvable or TLS-failing upstreams → 502 `upstream_unreachable`; a reset before
 *   the response → 502 `upstream_reset`; a reset mid-response destroys the client connection
 *   (a truncated body must not look complete) and reports `upstream_reset`.
 * - Responses are copied by us (`selfHandleResponse`) so hop-by-hop headers are dropped and
 *   node frames the client response itself.
 * - Bodies stream both ways with backpressure, and their buffers are freed as soon as they are
 *   written (body-pump.ts): a big download holds a few socket buffers, not what the GC has not
 *   reached yet.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex, Stream } from 'node:stream';
import { createProxyServer, type ProxyServer, type ServerOptions } from 'http-proxy-3';
import type { RequestTarget } from '../http/request-target.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import { type AgentPool, createAgentPool } from './agent-pool.ts';
import { pumpBody } from './body-pump.ts';
import { createFlight, type Flight } from './flight.ts';
import { buildUpstreamHeaders } from './forwarded-headers.ts';
import { connectionTokens, isHopByHop } from './hop-by-hop.ts';
import type { ProxyContext } from './proxy-context.ts';
import { errorCode, reasonForUpstreamError } from './upstream-errors.ts';

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
 * Per-request state rides on the request itself under private symbols: a property read per
 * proxy event instead of a WeakMap (ephemeron table) lookup, and nothing for the GC to trace
 * beyond the request's own graph.
 */
const FLIGHT = Symbol('gatehouse.flight');
const CHUNKED = Symbol('gatehouse.chunked');
const NO_HOP_OPTIONS = {};
type Carrier = IncomingMessage & { [FLIGHT]?: Flight; [CHUNKED]?: string };
const flightOf = (req: IncomingMessage): Flight | undefined => (req as Carrier)[FLIGHT];

type Kind = 'web' | 'ws';

/**
 * One http-proxy-3 server and one agent pool for every route. Its handlers are bound once, here:
 * a request allocates its flight, its upstream headers and its options, nothing per step.
 */
class UpstreamProxyImpl implements UpstreamProxy {
  readonly #proxy: ProxyServer;
  readonly #agents: AgentPool = createAgentPool();
  readonly #logger: UpstreamProxyOptions['logger'];
  #closed = false;

  constructor(opts: UpstreamProxyOptions) {
    this.#logger = opts.logger;
    const proxy = createProxyServer({ xfwd: false, secure: true, followRedirects: false });
    this.#proxy = proxy;
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
    const options = this.#prepare('web', req, res, route, ctx);
    if (options !== undefined) this.#proxy.web(req, res, options, this.#webFailed);
  }

  ws(req: IncomingMessage, socket: Duplex, head: Buffer, route: CompiledRoute, ctx: ProxyContext): void {
    const options = this.#prepare('ws', req, socket, route, ctx);
    if (options !== undefined) this.#proxy.ws(req, socket, head, options, this.#wsFailed);
  }

  close(): void {
    this.#closed = true;
    this.#agents.destroy();
  }

  /**
   * prepare: the flight, the upstream request head (headers on `req.headers`, the path as
   * `req.url`: http-proxy-3 builds the upstream request from both) and the per-request options.
   * undefined when the exchange was already answered (shutting down, a header that cannot go).
   */
  #prepare(
    kind: Kind,
    req: IncomingMessage,
    sink: ServerResponse | Duplex,
    route: CompiledRoute,
    ctx: ProxyContext,
  ): ServerOptions | undefined {
    const flight = createFlight(kind, req, sink, route, ctx, (err) =>
      this.#warn(flight, err, 'onDone threw'),
    );
    (req as Carrier)[FLIGHT] = flight;
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
      req.headers = headers as IncomingHttpHeaders;
      const te = headers['transfer-encoding'];
      if (te !== undefined && headers['content-length'] === undefined) (req as Carrier)[CHUNKED] = String(te);
      // The path is taken verbatim (`toProxy`) after the upstream's origin (`prependPath: false`):
      // http-proxy-3 would otherwise parse three URLs per request.
      req.url = upstreamPath(route.upstream, ctx.target);
      const { servername } = upstreamBase(route.upstream);
      return {
        target: route.upstream,
        prependPath: false,
        toProxy: true,
        changeOrigin: !route.config.preserve_host,
        agent: kind === 'ws' ? false : this.#agents.get(route.upstream),
        connectTimeout: route.config.connect_timeout,
        selfHandleResponse: true,
        // http-proxy-3 sends the request body with `(options.buffer || req).pipe(proxyReq)`; the
        // flight's `pipe` pumps it instead, freeing each chunk once written (body-pump.ts).
        buffer: kind === 'web' ? (flight as unknown as Stream) : undefined,
        // http-proxy-3 builds the outgoing TLS options on this object, so it must be fresh. SNI
        // and certificate checks use the upstream host even when the client's Host is preserved.
        ssl: servername !== undefined ? { servername } : {},
      };
    } catch (err) {
      this.#warn(flight, err, 'upstream request could not be prepared');
      flight.fail('internal_error');
      return undefined;
    }
  }

  /** onProxyReq: the upstream request has a socket. */
  #onProxyReq(proxyReq: ClientRequest, req: IncomingMessage): void {
    const flight = flightOf(req);
    if (!flight) return;
    flight.proxyReq = proxyReq;
    if (flight.settled) proxyReq.destroy();
    // The response clock starts once the upstream has the whole request: a large upload is
    // paced by the client, not the upstream.
    else if (proxyReq.writableFinished) flight.armTimeout();
    else proxyReq.on('finish', () => flight.armTimeout());
  }

  #onProxyReqWs(proxyReq: ClientRequest, req: IncomingMessage): void {
    const flight = flightOf(req);
    if (!flight) return;
    flight.proxyReq = proxyReq;
    flight.armTimeout();
    proxyReq.once('upgrade', () => flight.answered(101));
    proxyReq.once('response', (proxyRes) => flight.answered(proxyRes.statusCode ?? 502));
  }

  /** onProxyRes: the upstream answered; copy its head, then stream its body. */
  #onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse): void {
    const flight = flightOf(req);
    if (!flight || flight.settled || flight.failed || res.headersSent || res.destroyed) {
      proxyRes.resume();
      proxyRes.destroy();
      return;
    }
    flight.answered(proxyRes.statusCode ?? 502);
    if (this.#copyResponseHead(flight, proxyRes, res)) this.#stream(flight, proxyRes, res);
  }

  /**
   * copyResponseHead: status and end-to-end headers. Hop-by-hop headers describe the upstream
   * connection, not the message: never copied (node frames the client response itself). false
   * when a header was refused (the exchange failed).
   */
  #copyResponseHead(flight: Flight, proxyRes: IncomingMessage, res: ServerResponse): boolean {
    const headers = proxyRes.headers;
    const listed = connectionTokens(headers.connection);
    try {
      res.statusCode = proxyRes.statusCode ?? 502;
      for (const name of Object.keys(headers)) {
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
      this.#warn(flight, err, 'upstream response header refused');
      proxyRes.destroy();
      flight.fail('upstream_unreachable');
      return false;
    }
  }

  /**
   * stream: the body, with backpressure, tearing down the other side when one dies: the client
   * connection when the upstream dies mid-body (here), the upstream response when the client
   * goes away (the flight, on the response's 'close') – no half-open sockets either way.
   * 'close' fires before `res` closes: a reset is recorded first, so the outcome names it.
   * (`on`, not `once`: each event comes at most once, and `once` allocates a wrapper.)
   */
  #stream(flight: Flight, proxyRes: IncomingMessage, res: ServerResponse): void {
    flight.proxyRes = proxyRes;
    proxyRes.on('close', () => {
      if (proxyRes.complete) return;
      if (flight.reason === undefined) {
        flight.reason = 'upstream_reset';
        // The client only sees a truncated body; the operator needs a line saying why (issue-10).
        this.#logger?.warn(
          { route: flight.route.name, request_id: flight.ctx.requestId, reason: 'upstream_reset' },
          'upstream closed the connection mid-response',
        );
      }
      res.destroy();
    });
    proxyRes.on('error', () => res.destroy());
    pumpBody(proxyRes, res, proxyRes.socket);
  }

  /** fail: http-proxy-3 reports an upstream error (connect, TLS, reset before the response). */
  #fail(err: unknown, req: IncomingMessage, msg: string): void {
    const flight = flightOf(req);
    if (!flight) return;
    if (!flight.failed && !flight.settled) this.#warn(flight, err, msg);
    flight.fail(reasonForUpstreamError(err));
  }

  readonly #webFailed = (err: Error, req: IncomingMessage): void =>
    this.#fail(err, req, 'upstream request failed');
  readonly #wsFailed = (err: Error, req: IncomingMessage): void =>
    this.#fail(err, req, 'upstream websocket failed');

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

  #warn(flight: Flight, err: unknown, msg: string): void {
    // Only the code: node errors carry addresses and stacks that belong to no log line.
    this.#logger?.warn(
      // `error_code`, not `code`: the logger redacts a top-level `code` (authorization codes), which
      // erased the one clue an operator gets (issue-10).
      { route: flight.route.name, request_id: flight.ctx.requestId, error_code: errorCode(err) },
      msg,
    );
  }
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
