/**
 * forward: an allowed request goes upstream. Inbound copies of identity headers and Gatehouse's
 * own cookies are removed first (on every route, public ones included), then the verdict's
 * identity headers are set and the proxy streams the exchange; its outcome is recorded when it
 * is done (`observe` writes the audit line with it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { stripOwnCookies } from '../identity/cookies-upstream.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import { CLIENT_CLOSED } from '../proxy/flight.ts';
import type { ProxyContext, ProxyOutcome } from '../proxy/proxy-context.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  headers: Record<string, string>,
  rt: Runtime,
): void {
  const route = scope.route!;
  if (scope.setCookies) appendSetCookie(res, scope.setCookies);
  // A route limit's state; an upstream's own RateLimit headers, if any, replace these.
  if (scope.limitHeaders)
    for (const [name, value] of Object.entries(scope.limitHeaders)) res.setHeader(name, value);
  rt.proxy.web(req, res, route, proxyContext(req, scope, rt, headers, route, undefined));
}

/** A websocket handshake: `onDone` reports the status the handshake ended with. */
export function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  scope: Scope,
  headers: Record<string, string>,
  rt: Runtime,
  onDone: (status: number) => void,
): void {
  const route = scope.route!;
  rt.proxy.ws(req, socket, head, route, proxyContext(req, scope, rt, headers, route, onDone));
}

function proxyContext(
  req: IncomingMessage,
  scope: Scope,
  rt: Runtime,
  headers: Record<string, string>,
  route: CompiledRoute,
  then: ((status: number) => void) | undefined,
): ProxyContext {
  rt.stripInbound(req.headers);
  if (req.headers.cookie !== undefined) {
    const rest = stripOwnCookies(req.headers.cookie, rt.isOwnCookie);
    if (rest === undefined) delete req.headers.cookie;
    else req.headers.cookie = rest;
  }
  return {
    target: scope.target!,
    headers,
    clientIp: scope.clientIp,
    trustedPeer: rt.isTrustedProxy(req.socket.remoteAddress),
    proto: scope.proto,
    host: scope.host,
    requestId: scope.requestId,
    ...(rt.pages ? { pages: rt.pages } : {}),
    onDone: (done: ProxyOutcome) => {
      rt.metrics.upstreamDuration.observe({ route: route.name }, done.upstreamMs / 1000);
      if (done.reason) {
        rt.metrics.upstreamErrors.inc({ route: route.name, kind: done.reason.replace('upstream_', '') });
        scope.outcome = { decision: 'error', reason: done.reason, status: done.status };
      } else if (done.status === CLIENT_CLOSED && scope.decision) {
        // Allowed, then abandoned by the client before an answer: the decision stands, the
        // status says nobody got one.
        scope.outcome = { decision: 'allow', reason: scope.decision.reason, status: CLIENT_CLOSED };
      }
      then?.(done.status);
    },
  };
}

function appendSetCookie(res: ServerResponse, cookies: string[]): void {
  const prev = res.getHeader('set-cookie');
  res.setHeader(
    'set-cookie',
    prev ? [...(Array.isArray(prev) ? prev : [String(prev)]), ...cookies] : cookies,
  );
}
