/**
 * Decide, then respond: the one place that maps a non-allow decision to an HTTP answer.
 * - login needed, browser navigation → 302 to `{prefix}/start?[provider=NAME&]rd=<original URL>`
 * - login needed, anything else      → 401 + `WWW-Authenticate: Bearer` (RFC 6750 §3)
 * - denied                           → 403 (`error="insufficient_scope"` for bearer callers)
 * Error descriptions are the registry's client-safe texts: they name the reason, never internals.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REASONS, type ReasonCode } from '../errors.ts';
import { sendError } from '../http/send-error.ts';
import type { Scope } from './scope.ts';

export interface LoginTarget {
  /** `{prefix}/start` on the public origin, or a path when the origin is the request's own */
  startUrl: string;
  /** the route accepts sessions and a login provider exists */
  canLogin: boolean;
  /** the one provider the route accepts, when several are configured: no chooser then */
  provider?: string;
}

export function originalUrl(scope: Scope): string {
  const t = scope.target;
  return `${scope.proto}://${scope.host}${t ? t.path + t.search : '/'}`;
}

export function wwwAuthenticate(reason: ReasonCode | undefined, deny: boolean): string {
  if (deny) return 'Bearer realm="gatehouse", error="insufficient_scope"';
  if (!reason || reason === 'no_credentials') return 'Bearer realm="gatehouse"';
  return `Bearer realm="gatehouse", error="invalid_token", error_description="${REASONS[reason].detail}"`;
}

/** A top-level browser navigation that can follow a redirect to the IdP. */
export function isBrowserNavigation(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (req.headers.authorization) return false;
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined && mode !== 'navigate') return false;
  return (req.headers.accept ?? '').includes('text/html');
}

export function respondLogin(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  login: LoginTarget,
  reason: ReasonCode,
): void {
  const cookies = scope.setCookies ? { 'set-cookie': scope.setCookies } : undefined;
  if (login.canLogin && isBrowserNavigation(req)) {
    const provider = login.provider === undefined ? '' : `provider=${encodeURIComponent(login.provider)}&`;
    const location = `${login.startUrl}?${provider}rd=${encodeURIComponent(originalUrl(scope))}`;
    res.writeHead(302, {
      location,
      'cache-control': 'no-store',
      'x-request-id': scope.requestId,
      ...cookies,
    });
    res.end();
    scope.outcome = { decision: 'login', reason, status: 302 };
    return;
  }
  sendError(
    req,
    res,
    reason === 'no_credentials' || REASONS[reason].status === 401 ? reason : 'no_credentials',
    {
      requestId: scope.requestId,
      headers: { 'www-authenticate': wwwAuthenticate(reason, false), ...cookies },
    },
  );
  scope.outcome = { decision: 'login', reason, status: 401 };
}

export function respondForbidden(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  reason: ReasonCode,
): void {
  const headers: Record<string, string | string[]> = {};
  if (scope.identity?.authType === 'bearer') headers['www-authenticate'] = wwwAuthenticate(reason, true);
  if (scope.setCookies) headers['set-cookie'] = scope.setCookies;
  sendError(req, res, reason, { requestId: scope.requestId, headers });
  scope.outcome = { decision: 'deny', reason, status: 403 };
}
