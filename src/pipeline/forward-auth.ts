/**
 * `{prefix}/forward_auth`: the endpoint for Caddy `forward_auth` and Traefik `ForwardAuth`. The
 * original request arrives as `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri`, believed only
 * from `server.trusted_proxies` (proto and host are taken by `scope.ts`, method and URI here).
 * From any other peer there is no original request to decide: 403 `route_not_found`, as
 * `{prefix}/auth` answers without `X-Original-URI`.
 *
 * Unlike nginx `auth_request`, these proxies hand a non-2xx answer to the client as it is, so a
 * browser navigation without a session gets the 302 to `{prefix}/start` straight from here.
 * An allowed request gets 200 with every identity header name – empty when there is no value –
 * so the proxy's header copy overwrites whatever copy the client sent.
 * @see https://caddyserver.com/docs/caddyfile/directives/forward_auth
 * @see https://doc.traefik.io/traefik/middlewares/http/forwardauth/
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRequestTarget } from '../http/request-target.ts';
import { singleHeader } from '../http/single-header.ts';
import { NO_ROUTE } from './check.ts';
import { decideForEdge } from './edge-answer.ts';
import { EDGE_STYLE, respond } from './respond.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

export async function serveForwardAuth(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
): Promise<void> {
  if (!rt.isTrustedProxy(req.socket.remoteAddress)) return respond(req, res, scope, NO_ROUTE, rt, EDGE_STYLE);
  const uri = singleHeader(req, 'x-forwarded-uri');
  scope.method = (singleHeader(req, 'x-forwarded-method') || 'GET').toUpperCase();
  if (!uri) return respond(req, res, scope, NO_ROUTE, rt, EDGE_STYLE);
  scope.target = parseRequestTarget(uri); // bad URI → 400, never 2xx
  await decideForEdge(req, res, scope, rt);
}
