/**
 * `{prefix}/auth`: the nginx `auth_request` endpoint. The original request is described by
 * `X-Original-URI`, `X-Forwarded-Uri` or `X-Original-URL` and `X-Original-Method` (believed only
 * from trusted proxies; see http/original-request.ts) or named explicitly with `?route=NAME`. The answer is 202 + identity headers only for a request a real
 * allow decision covers – no user agent, path or health-check shortcut – else 401 or 403.
 * It never redirects: nginx cannot pass a redirect through auth_request, so the shipped
 * snippet turns 401 into the redirect to `{prefix}/start`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { originalRequest } from '../http/original-request.ts';
import { singleHeader } from '../http/single-header.ts';
import { check, NO_ROUTE } from './check.ts';
import { credentialsOf } from './identify.ts';
import { authRequestStyle, respond } from './respond.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

export async function serveAuthRequest(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
): Promise<void> {
  const trusted = rt.isTrustedProxy(req.socket.remoteAddress);
  const original = trusted ? originalRequest((name) => singleHeader(req, name)) : undefined; // bad → 400
  scope.method = ((trusted && singleHeader(req, 'x-original-method')) || 'GET').toUpperCase();
  const authQuery = scope.target!.search; // the /auth URL's own query, before the original replaces it
  // `search` is '' or starts with '?'; shorter than two characters, it holds no parameter at all.
  const hasQuery = authQuery.length > 1;
  const named = hasQuery ? new URLSearchParams(authQuery).get('route') : null;
  const style = authRequestStyle(trusted);
  if (original) {
    scope.target = original.target;
    if (original.host !== undefined) scope.host = original.host; // ingress-nginx: the URL names it
  } else if (named === null) return respond(req, res, scope, NO_ROUTE, rt, style); // nothing to match: denied

  const verdict = await check(scope, credentialsOf(req), rt, {
    ...(named !== null ? { routeName: named } : {}),
    ...(hasQuery ? { restrict: authQuery } : {}),
  });
  if (verdict.outcome !== 'allow') return respond(req, res, scope, verdict, rt, style);
  const cookies = scope.setCookies ? { 'set-cookie': scope.setCookies } : undefined;
  // An explicit empty body, not a chunked one: nginx reads only the head of an auth_request
  // answer, and keeps the connection to Gatehouse alive only when it knows no body follows.
  res.writeHead(202, { 'cache-control': 'no-store', 'content-length': '0', ...verdict.headers, ...cookies });
  res.end();
}
