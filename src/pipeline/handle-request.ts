/**
 * The request pipeline, top to bottom. Each stage is a small function with one job; the order
 * here is the architecture (DESIGN.md "Request pipeline"):
 *
 *   accept → parse target → endpoints → route → strip inbound → identify/refresh
 *          → authorize → respond (login / 401 / 403) or forward → observe
 *
 * The runtime `rt` is captured once per request, so a config reload that swaps it never
 * changes the rules under a request already in flight.
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatehouseError, REASONS } from '../errors.ts';
import { parseRequestTarget } from '../http/request-target.ts';
import { sendError } from '../http/send-error.ts';
import type { Runtime } from '../server/runtime.ts';
import { authorize, forwardHeaders } from './authorize.ts';
import { endpointName, serveEndpoint } from './endpoints.ts';
import { observe, record } from './observe.ts';
import { respondForbidden, respondLogin } from './respond-denied.ts';
import { createScope, type Scope } from './scope.ts';

export async function handleRequest(req: IncomingMessage, res: ServerResponse, rt: Runtime): Promise<void> {
  const scope = createScope(req, rt.isTrustedProxy); // accept
  res.setHeader('x-request-id', scope.requestId);
  observe(res, scope, rt);
  try {
    scope.target = parseRequestTarget(req.url); // parse once: routing, policy and upstream read this form
    const endpoint = endpointName(scope.target.path, rt.prefix);
    if (endpoint !== undefined) return await serveEndpoint(req, res, scope, rt, endpoint); // {prefix}/… served by Gatehouse itself

    const route = rt.routes.match(scope.host, scope.target.path, scope.method);
    if (!route) return fail(req, res, scope, rt, new GatehouseError('route_not_found'));
    scope.route = route;
    rt.stripInbound(req.headers); // on every route, public ones included

    const decision = await authorize(req, scope, rt, route); // identify, refresh, decide
    if (decision.outcome === 'login')
      return respondLogin(req, res, scope, rt.loginTarget(route), decision.reason);
    if (decision.outcome === 'deny') return respondForbidden(req, res, scope, decision.reason);

    const headers = await forwardHeaders(req, scope, rt, route); // identity headers + assertion
    if (scope.setCookies) appendSetCookie(res, scope.setCookies);
    rt.proxy.web(req, res, route, {
      ...proxyContext(req, scope, rt, headers),
      onDone: (done) => {
        rt.metrics.upstreamDuration.observe({ route: route.name }, done.upstreamMs / 1000);
        if (done.reason) {
          rt.metrics.upstreamErrors.inc({ route: route.name, kind: done.reason.replace('upstream_', '') });
          scope.outcome = { decision: 'error', reason: done.reason, status: done.status };
        }
      },
    });
  } catch (err) {
    fail(req, res, scope, rt, err);
  }
}

/** WebSocket upgrades pass the same route and policy checks before the socket is handed on. */
export async function handleUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  rt: Runtime,
): Promise<void> {
  const scope = createScope(req, rt.isTrustedProxy);
  socket.on('error', () => socket.destroy());
  let status = 101;
  try {
    scope.target = parseRequestTarget(req.url);
    const route = rt.routes.match(scope.host, scope.target.path, scope.method);
    if (!route) throw new GatehouseError('route_not_found');
    scope.route = route;
    rt.stripInbound(req.headers);
    const decision = await authorize(req, scope, rt, route);
    if (decision.outcome !== 'allow') {
      status = decision.outcome === 'deny' ? 403 : 401;
      return rejectUpgrade(socket, status);
    }
    const headers = await forwardHeaders(req, scope, rt, route);
    rt.proxy.ws(req, socket, head, route, proxyContext(req, scope, rt, headers));
  } catch (err) {
    const code = err instanceof GatehouseError ? err.code : 'internal_error';
    scope.outcome = { decision: 'error', reason: code };
    status = REASONS[code].status;
    rejectUpgrade(socket, status);
  } finally {
    record(rt, scope, status);
  }
}

function proxyContext(req: IncomingMessage, scope: Scope, rt: Runtime, headers: Record<string, string>) {
  return {
    target: scope.target!,
    headers,
    clientIp: scope.clientIp,
    trustedPeer: rt.isTrustedProxy(req.socket.remoteAddress),
    proto: scope.proto,
    host: scope.host,
    requestId: scope.requestId,
  };
}

function rejectUpgrade(socket: Duplex, status: number): void {
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
  );
}

function fail(req: IncomingMessage, res: ServerResponse, scope: Scope, rt: Runtime, err: unknown): void {
  const code = err instanceof GatehouseError ? err.code : 'internal_error';
  // The one place an unexpected exception surfaces: logged with its stack, never sent to the client.
  if (code === 'internal_error')
    rt.log.error({ request_id: scope.requestId, err }, 'unexpected error in pipeline');
  scope.outcome ??= { decision: 'error', reason: code };
  sendError(req, res, code, { requestId: scope.requestId });
}

function appendSetCookie(res: ServerResponse, cookies: string[]): void {
  const prev = res.getHeader('set-cookie');
  res.setHeader(
    'set-cookie',
    prev ? [...(Array.isArray(prev) ? prev : [String(prev)]), ...cookies] : cookies,
  );
}
