/**
 * `{prefix}/ext_authz/…`: Envoy's external authorization filter in HTTP service mode (also
 * Envoy Gateway's and Istio's `envoyExtAuthzHttp` providers). Envoy sends the original request's
 * method, its `Host`, and its path (query included) behind the configured `path_prefix`
 * (`{prefix}/ext_authz`), with the headers its `allowed_headers` lists; `Authorization` is
 * always among them, the session cookie only when listed. Only a trusted proxy may ask: from
 * anyone else there is no original request to decide (403 `route_not_found`, as `/auth`).
 *
 * - allowed → 200 with every identity header (empty when the identity has none, so Envoy's
 *   `allowed_upstream_headers` overwrites a client's own copy) and the assertion;
 * - refused → the answer the client should get, which Envoy passes on: a 302 to sign in for a
 *   browser navigation, 401 with `WWW-Authenticate` for an API, 403 for a deny.
 * @see https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/http/ext_authz/v3/ext_authz.proto
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRequestTarget } from '../http/request-target.ts';
import { NO_ROUTE } from './check.ts';
import { decideForEdge } from './edge-answer.ts';
import { EDGE_STYLE, respond } from './respond.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

/** The endpoint name `endpointName` gives for every path under `{prefix}/ext_authz`. */
export const EXT_AUTHZ = 'ext_authz';

export async function serveExtAuthz(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
): Promise<void> {
  if (!rt.isTrustedProxy(req.socket.remoteAddress)) return respond(req, res, scope, NO_ROUTE, rt, EDGE_STYLE);
  // The original target is the path behind `{prefix}/ext_authz` (already normalized with it).
  const own = `${rt.prefix}/${EXT_AUTHZ}`;
  const rest = scope.target!.path.slice(own.length);
  scope.target = parseRequestTarget(`${rest.startsWith('/') ? rest : `/${rest}`}${scope.target!.search}`);
  await decideForEdge(req, res, scope, rt);
}
