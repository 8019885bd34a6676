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
import type { RequestTarget } from '../pipeline/request-target.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import { createAgentPool } from './agent-pool.ts';
import { createFlight, type Flight } from './flight.ts';
import { buildUpstreamHeaders } from './forwarded-headers.ts';
import { stripResponseHopByHop } from './hop-by-hop.ts';
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

export function createUpstreamProxy(opts: UpstreamProxyOptions = {}): UpstreamProxy {
  const proxy = createProxyServer({ xfwd: false, secure: true, followRedirects: false });
  const agents = createAgentPool();
  const flights = new WeakMap<IncomingMessage, Flight>();
  const chunked = new WeakMap<IncomingMessage, string>();
  let closed = false;

  // http-proxy-3's `deleteLength` pass gives a DELETE or OPTIONS without Content-Length a
  // `Content-Length: 0` and drops its Transfer-Encoding, then pipes the chunked body anyway: the
  // upstream reads that body as a second request on the connection (request smuggling past
  // routing and policy). Restore the framing right after that pass; its `after()` inserts
  // before, so this hooks in before the pass that follows it.
  proxy.before('web', 'timeout', (req) => {
    const te = chunked.get(req);
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
    const flight = flights.get(req);
    if (flight) flight.abandon();
    else clientSide.destroy();
  });

  proxy.on('proxyReq', (proxyReq, req) => {
    const flight = flights.get(req);
    if (!flight) return;
    flight.proxyReq = proxyReq;
    if (flight.settled) proxyReq.destroy();
    // The response clock starts once the upstream has the whole request: a large upload is
    // paced by the client, not the upstream.
    else if (proxyReq.writableFinished) flight.armTimeout();
    else proxyReq.once('finish', () => flight.armTimeout());
  });

  proxy.on('proxyReqWs', (proxyReq, req) => {
    const flight = flights.get(req);
    if (!flight) return;
    flight.proxyReq = proxyReq;
    flight.armTimeout();
    proxyReq.once('upgrade', () => flight.answered(101));
    proxyReq.once('response', (proxyRes) => flight.answered(proxyRes.statusCode ?? 502));
  });

  proxy.on('proxyRes', (proxyRes, req, res) => {
    const flight = flights.get(req);
    if (!flight || flight.settled || flight.failed || res.headersSent || res.destroyed) {
      proxyRes.resume();
      proxyRes.destroy();
      return;
    }
    flight.answered(proxyRes.statusCode ?? 502);
    stripResponseHopByHop(proxyRes.headers);
    try {
      res.statusCode = proxyRes.statusCode ?? 502;
      for (const [name, value] of Object.entries(proxyRes.headers)) {
        if (value === undefined) continue;
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
    // Fires before `res` closes: record the reset so the outcome names it.
    proxyRes.once('close', () => {
      if (proxyRes.complete || flight.reason !== undefined) return;
      flight.reason = 'upstream_reset';
      // The client only sees a truncated body; the operator needs a line saying why (issue-10).
      opts.logger?.warn(
        { route: flight.route.name, request_id: flight.ctx.requestId, reason: 'upstream_reset' },
        'upstream closed the connection mid-response',
      );
    });
    // Stream with backpressure, and tear down the other side when one dies: the client connection
    // when the upstream dies mid-body, the upstream response when the client goes away – no
    // half-open sockets either way. (Plain pipe + two listeners: stream.pipeline allocates an
    // AbortController and a DOMException per request, a measurable share of the hot path.)
    proxyRes.pipe(res);
    proxyRes.once('error', () => res.destroy());
    proxyRes.once('close', () => {
      if (!proxyRes.complete) res.destroy();
    });
    res.once('close', () => {
      if (!res.writableFinished) proxyRes.destroy();
    });
  });

  const options = (route: CompiledRoute, target: RequestTarget, websocket: boolean): ServerOptions => {
    const url = upstreamUrl(route.upstream, target);
    const https = url.protocol === 'https:';
    return {
      target: url,
      ignorePath: true,
      changeOrigin: !route.config.preserve_host,
      agent: websocket ? false : agents.get(route.upstream),
      connectTimeout: route.config.connect_timeout,
      selfHandleResponse: true,
      // http-proxy-3 builds the outgoing options on this object, so it must be fresh. SNI and
      // certificate checks use the upstream host even when the client's Host is preserved.
      ssl: https && isIP(url.hostname) === 0 ? { servername: url.hostname } : {},
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
    flights.set(req, flight);
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
      // http-proxy-3 builds the upstream head from req.headers; the caller's view is replaced.
      req.headers = headers as IncomingHttpHeaders;
      const te = headers['transfer-encoding'];
      if (te !== undefined && headers['content-length'] === undefined) chunked.set(req, String(te));
      return { flight, options: options(route, ctx.target, kind === 'ws') };
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
