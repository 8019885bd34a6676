/**
 * `{prefix}/auth`: the nginx `auth_request` endpoint. The original request is described by
 * `X-Original-URI` / `X-Original-Method` (believed only from trusted proxies) or named
 * explicitly with `?route=NAME`. The answer is 202 + identity headers only for a request a real
 * allow decision covers – no user agent, path or health-check shortcut – else 401 or 403.
 * It never redirects: nginx cannot pass a redirect through auth_request, so the shipped
 * snippet turns 401 into the redirect to `{prefix}/start`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../errors.ts';
import { parseRequestTarget } from '../http/request-target.ts';
import { sendError } from '../http/send-error.ts';
import type { Runtime } from '../server/runtime.ts';
import { meetsAuthQuery } from './auth-query.ts';
import { authorize, forwardHeaders } from './authorize.ts';
import { wwwAuthenticate } from './respond-denied.ts';
import type { Scope } from './scope.ts';

export async function serveAuthRequest(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
): Promise<void> {
  const trusted = rt.isTrustedProxy(req.socket.remoteAddress);
  // X-Forwarded-Uri is what oauth2-proxy's nginx examples send; X-Original-URI wins when both are.
  const originalUri = trusted
    ? (single(req.headers['x-original-uri']) ?? single(req.headers['x-forwarded-uri']))
    : undefined;
  const method = ((trusted && single(req.headers['x-original-method'])) || 'GET').toUpperCase();
  const authQuery = scope.target!.search; // the /auth URL's own query, before the original replaces it
  // `search` is '' or starts with '?'; shorter than two characters, it holds no parameter at all.
  const hasQuery = authQuery.length > 1;
  const named = hasQuery ? new URLSearchParams(authQuery).get('route') : null;

  const target = originalUri ? parseRequestTarget(originalUri) : undefined; // bad URI → 400, never 2xx
  if (target) scope.target = target;
  const route = named
    ? rt.routes.byName(named)
    : target
      ? rt.routes.match(scope.host, target.path, method)
      : undefined;
  if (!route) {
    // Fail closed with a status nginx understands as "denied" (anything but 2xx/401/403 becomes a 500).
    scope.outcome = { decision: 'deny', reason: 'route_not_found', status: 403 };
    sendError(req, res, 'route_not_found', { requestId: scope.requestId, status: 403 });
    return;
  }
  scope.route = route;

  let decision = await authorize(req, scope, rt, route);
  if (decision.outcome === 'allow' && hasQuery && meetsAuthQuery(authQuery, scope.identity) === false)
    decision = { ...decision, outcome: 'deny', enforcedOutcome: 'deny', reason: 'policy_denied' }; // oauth2-proxy's ?allowed_groups=…
  const cookies = scope.setCookies ? { 'set-cookie': scope.setCookies } : undefined;
  if (decision.outcome === 'allow') {
    const headers = await forwardHeaders(req, scope, rt, route);
    // An explicit empty body, not a chunked one: nginx reads only the head of an auth_request
    // answer, and keeps the connection to Gatehouse alive only when it knows no body follows.
    res.writeHead(202, { 'cache-control': 'no-store', 'content-length': '0', ...headers, ...cookies });
    res.end();
    return;
  }
  if (decision.outcome === 'login') {
    scope.outcome = { decision: 'login', reason: decision.reason, status: 401 };
    const headers = { 'www-authenticate': wwwAuthenticate(decision.reason, false), ...cookies };
    if (trusted) return answerHeadOnly(res, 401, headers);
    sendError(req, res, 'no_credentials', { requestId: scope.requestId, headers });
    return;
  }
  scope.outcome = { decision: 'deny', reason: decision.reason, status: 403 };
  const deny: Record<string, string | string[]> = { ...cookies };
  if (scope.identity?.authType === 'bearer')
    deny['www-authenticate'] = wwwAuthenticate(decision.reason, true);
  if (trusted) return answerHeadOnly(res, 403, deny);
  sendError(req, res, decision.reason, { requestId: scope.requestId, headers: deny });
}

/**
 * nginx reads only the head of an auth_request answer and keeps its connection to Gatehouse
 * alive only when no body follows: a proxy gets 401/403 without one (the reason is in the audit
 * line, and nginx shows the user its own error page anyway). Direct callers get sendError's body.
 */
function answerHeadOnly(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
): void {
  res.writeHead(status, { 'cache-control': 'no-store', 'content-length': '0', ...headers });
  res.end();
}

function single(v: string | string[] | undefined): string | undefined {
  if (Array.isArray(v)) throw new GatehouseError('bad_request', 'repeated X-Original-* header');
  return v;
}
