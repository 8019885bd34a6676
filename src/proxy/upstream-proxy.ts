/**
 * The last pipeline stage: streams an authorized request to its route's upstream with
 * http-proxy-3 (bodies are piped both ways, so backpressure holds and nothing is buffered) and
 * turns every upstream failure into a coded answer.
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
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer, type ServerOptions } from 'http-proxy-3';
import type { ReasonCode } from '../errors.ts';
import type { RequestTarget } from '../http/request-target.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import { createAgentPool } from './agent-pool.ts';
import { createFlight, type Flight } from './flight.ts';
import { buildUpstreamHeaders } from './forwarded-headers.ts';
import { connectionTokens, isHopByHop } from './hop-by-hop.ts';
import { errorCode, reasonForUpstreamError } from './upstream-errors.ts';

export interface ProxyOutcome {
  /** the status the client got; 499 when the client went away before an answer */
  status: number;
  reason?: ReasonCode;
  /** ms from the call to the upstream's response headers (or to the failure) */
  upstreamMs: number;
}

export interface ProxyContext {
  target: RequestTarget;
  /** set on the upstream request last (identity headers); inbound copies already stripped */
  headers: Record<string, string>;
  /** the client address, resolved through trusted proxies */
  clientIp: string;
  proto: 'http' | 'https';
  /** the host the client asked for (`Host`, or a trusted `X-Forwarded-Host`) */
  host: string;
  requestId: string;
  /** the socket peer is a trusted proxy: keep and extend its `X-Forwarded-For` (default false) */
  trustedPeer?: boolean;
  /** called exactly once per call to `web`/`ws` */
  onDone?(outcome: ProxyOutcome): void;
}

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

/** The upstream URL for one request: route upstream path prefix + normalized path, + query. */
export function upstreamUrl(upstream: URL, target: RequestTarget): URL {
  const url = new URL(upstream.href);
  const base = upstream.pathname;
  url.pathname = base === '/' ? target.path : base.replace(/\/$/, '') + target.path;
  const own = upstream.search.slice(1);
  const theirs = target.search.slice(1);
  url.search = own && theirs ? `${own}&${theirs}` : own || theirs;
  return url;
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
 * `upstreamUrl(upstream, target)`'s path and query, built as a string: no URL parse per request.
 * (The target is canonical, so URL would not re-encode it; a leading '?' of the joined query is
 * dropped as the URL `search` setter drops it.)
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
const NO_HOP_OPTIONS = {};
const CHUNKED = Symbol('gatehouse.chunked');
type Carrier = IncomingMessage & { [FLIGHT]?: Flight; [CHUNKED]?: string };
const flightOf = (req: IncomingMessage): Flight | undefined => (req as Carrier)[FLIGHT];

export function createUpstreamProxy(opts: UpstreamProxyOptions = {}): UpstreamProxy {
  const proxy = createProxyServer({ xfwd: false, secure: true, followRedirects: false });
  const agents = createAgentPool();
  let closed = false;

  // http-proxy-3's `deleteLength` pass gives a DELETE or OPTIONS without Content-Length a
  // `Content-Length: 0` and drops its Transfer-Encoding, then pipes the chunked body anyway: the
  // upstream reads that body as a second request on the connection (request smuggling past
  // routing and policy). Restore the framing right after that pass; its `after()` inserts
  // before, so this hooks in before the pass that follows it.
  proxy.before('web', 'timeout', (req) => {
    const te = (req as Carrier)[CHUNKED];
    if (te !== undefined) {
      delete req.headers['content-length'];
      req.headers['transfer-encoding'] = te;
    }
    return undefined;
  });

  const warn = (flight: Flight, err: unknown, msg: string) => {
    // Only the code: node errors carry addresses and stacks that belong to no log line.
    opts.logger?.warn(
      // `error_code`, not `code`: the logger redacts a top-level `code` (authorization codes), which
      // erased the one clue an operator gets (issue-10).
      { route: flight.route.name, request_id: flight.ctx.requestId, error_code: errorCode(err) },
      msg,
    );
  };

  // Client socket errors on a websocket reach this event (http-proxy-3 emits them there); an
  // 'error' without a listener would throw and crash the process. They are the client's doing,
  // so no upstream reason is recorded.
  proxy.on('error', (_err, req, clientSide) => {
    const flight = flightOf(req);
    if (flight) flight.abandon();
    else clientSide.destroy();
  });

  proxy.on('proxyReq', (proxyReq, req) => {
    const flight = flightOf(req);
    if (!flight) return;
    flight.proxyReq = proxyReq;
    if (flight.settled) proxyReq.destroy();
    // The response clock starts once the upstream has the whole request: a large upload is
    // paced by the client, not the upstream.
    else if (proxyReq.writableFinished) flight.armTimeout();
    else proxyReq.on('finish', () => flight.armTimeout());
  });

  proxy.on('proxyReqWs', (proxyReq, req) => {
    const flight = flightOf(req);
    if (!flight) return;
    flight.proxyReq = proxyReq;
    flight.armTimeout();
    proxyReq.once('upgrade', () => flight.answered(101));
    proxyReq.once('response', (proxyRes) => flight.answered(proxyRes.statusCode ?? 502));
  });

  proxy.on('proxyRes', (proxyRes, req, res) => {
    const flight = flightOf(req);
    if (!flight || flight.settled || flight.failed || res.headersSent || res.destroyed) {
      proxyRes.resume();
      proxyRes.destroy();
      return;
    }
    flight.answered(proxyRes.statusCode ?? 502);
    // Hop-by-hop headers describe the upstream connection, not the message: never copied (node
    // frames the client response itself).
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
    } catch (err) {
      warn(flight, err, 'upstream response header refused');
      proxyRes.destroy();
      flight.fail('upstream_unreachable');
      return;
    }
    // Stream with backpressure, and tear down the other side when one dies: the client connection
    // when the upstream dies mid-body (here), the upstream response when the client goes away
    // (the flight, on the response's 'close') – no half-open sockets either way. (Plain pipe +
    // listeners: stream.pipeline allocates an AbortController and a DOMException per request.)
    // 'close' fires before `res` closes: a reset is recorded first, so the outcome names it.
    // (`on`, not `once`: each event comes at most once, and `once` allocates a wrapper.)
    flight.proxyRes = proxyRes;
    proxyRes.on('close', () => {
      if (proxyRes.complete) return;
      if (flight.reason === undefined) {
        flight.reason = 'upstream_reset';
        // The client only sees a truncated body; the operator needs a line saying why (issue-10).
        opts.logger?.warn(
          { route: flight.route.name, request_id: flight.ctx.requestId, reason: 'upstream_reset' },
          'upstream closed the connection mid-response',
        );
      }
      res.destroy();
    });
    proxyRes.pipe(res);
    proxyRes.on('error', () => res.destroy());
  });

  const options = (
    req: IncomingMessage,
    route: CompiledRoute,
    target: RequestTarget,
    websocket: boolean,
  ): ServerOptions => {
    // The path sent is set as `req.url` and taken verbatim (`toProxy`) after the upstream's origin
    // (`prependPath: false`): http-proxy-3 would otherwise parse three URLs per request.
    req.url = upstreamPath(route.upstream, target);
    const { servername } = upstreamBase(route.upstream);
    return {
      target: route.upstream,
      prependPath: false,
      toProxy: true,
      changeOrigin: !route.config.preserve_host,
      agent: websocket ? false : agents.get(route.upstream),
      connectTimeout: route.config.connect_timeout,
      selfHandleResponse: true,
      // http-proxy-3 builds the outgoing options on this object, so it must be fresh. SNI and
      // certificate checks use the upstream host even when the client's Host is preserved.
      ssl: servername !== undefined ? { servername } : {},
    };
  };

  const start = (
    kind: 'web' | 'ws',
    req: IncomingMessage,
    sink: ServerResponse | Duplex,
    route: CompiledRoute,
    ctx: ProxyContext,
  ): { flight: Flight; options: ServerOptions } | undefined => {
    const flight = createFlight(kind, req, sink, route, ctx, (err) => warn(flight, err, 'onDone threw'));
    (req as Carrier)[FLIGHT] = flight;
    if (closed) {
      flight.fail('shutting_down');
      return undefined;
    }
    try {
      const headers = buildUpstreamHeaders(
        req.headers,
        {
          clientIp: ctx.clientIp,
          peerIp: req.socket.remoteAddress ?? ctx.clientIp,
          trustedPeer: ctx.trustedPeer === true,
          proto: ctx.proto,
          host: ctx.host,
          requestId: ctx.requestId,
          websocket: kind === 'ws',
        },
        ctx.headers,
      );
      // http-proxy-3 builds the upstream head from req.headers and the path from req.url; the
      // caller's view of both is replaced.
      req.headers = headers as IncomingHttpHeaders;
      const te = headers['transfer-encoding'];
      if (te !== undefined && headers['content-length'] === undefined) (req as Carrier)[CHUNKED] = String(te);
      return { flight, options: options(req, route, ctx.target, kind === 'ws') };
    } catch (err) {
      warn(flight, err, 'upstream request could not be prepared');
      flight.fail('internal_error');
      return undefined;
    }
  };

  return {
    web(req, res, route, ctx) {
      const started = start('web', req, res, route, ctx);
      if (!started) return;
      proxy.web(req, res, started.options, (err) => {
        if (!started.flight.failed && !started.flight.settled)
          warn(started.flight, err, 'upstream request failed');
        started.flight.fail(reasonForUpstreamError(err));
      });
    },
    ws(req, socket, head, route, ctx) {
      const started = start('ws', req, socket, route, ctx);
      if (!started) return;
      proxy.ws(req, socket, head, started.options, (err) => {
        if (!started.flight.failed && !started.flight.settled)
          warn(started.flight, err, 'upstream websocket failed');
        started.flight.fail(reasonForUpstreamError(err));
      });
    },
    close() {
      closed = true;
      agents.destroy();
    },
  };
}
