/**
 * Decide, then respond: the one mapping from a non-allow {@link Verdict} to an answer, for every
 * entry point. {@link answerFor} is pure (what to answer); `respond` writes it on an HTTP
 * response and `respondOnSocket` on a websocket handshake's raw socket.
 *
 * - login needed, browser navigation, the route can sign in → 302 to
 *   `{prefix}/start?[provider=NAME&]rd=<original URL>`
 * - login needed, a script's request (XHR / fetch, see http/request-kind.ts), the route can
 *   sign in → 401 with a JSON body whose `sign_in_url` the page navigates to (never a 302: a
 *   script following it to the IdP ends in a CORS error)
 * - login needed, anything else → 401 + `WWW-Authenticate: Bearer` (RFC 6750 §3)
 * - denied → 403 (`error="insufficient_scope"` for bearer callers, with `scope="…"` naming what
 *   is missing when an allow rule failed on its `scopes:` alone – RFC 6750 §3.1)
 * - error → the reason's status from the registry (`src/errors.ts`)
 *
 * Bodies are `sendError`'s (HTML or JSON by `Accept`), with the registry's client-safe texts:
 * they name the reason, never internals. An edge proxy that reads only the head (nginx
 * `auth_request` from a trusted peer) gets none.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { REASONS, type ReasonCode } from '../errors.ts';
import { originalUrl } from '../http/original-url.ts';
import { isScriptRequest, type RequestHead, returnTarget, wantsRedirect } from '../http/request-kind.ts';
import { sendError } from '../http/send-error.ts';
import type { Verdict } from './check.ts';
import type { Routing } from './runtime.ts';
import type { Scope } from './scope.ts';

/** How one entry point's answers differ from another's; everything else is shared. */
export interface AnswerStyle {
  /** a browser navigation may be sent to sign in (an auth subrequest cannot pass a redirect on) */
  readonly redirectToLogin: boolean;
  /** the peer reads only the head of 401/403 answers: no body (the audit line has the reason) */
  readonly headOnly: boolean;
  /** no route is a deny (403), as nginx `auth_request` understands only 2xx, 401 and 403 */
  readonly noRouteIsDeny: boolean;
}

/** Proxy mode: the client is the browser or API caller itself. */
export const PROXY_STYLE: AnswerStyle = { redirectToLogin: true, headOnly: false, noRouteIsDeny: false };
/** `{prefix}/userinfo`: an API; no redirects. */
export const API_STYLE: AnswerStyle = { redirectToLogin: false, headOnly: false, noRouteIsDeny: false };
/**
 * An edge proxy's auth subrequest whose answer reaches the client (Caddy `forward_auth`,
 * Traefik `ForwardAuth`, Envoy `ext_authz`): a browser may be redirected to sign in.
 */
export const EDGE_STYLE: AnswerStyle = { redirectToLogin: true, headOnly: false, noRouteIsDeny: true };
/** nginx `auth_request`; `headOnly` when the peer is a trusted proxy. */
export function authRequestStyle(fromTrustedProxy: boolean): AnswerStyle {
  return fromTrustedProxy ? AUTH_REQUEST_PROXY : AUTH_REQUEST_DIRECT;
}
const AUTH_REQUEST_PROXY: AnswerStyle = { redirectToLogin: false, headOnly: true, noRouteIsDeny: true };
const AUTH_REQUEST_DIRECT: AnswerStyle = { redirectToLogin: false, headOnly: false, noRouteIsDeny: true };
/** A websocket handshake: a bare status line, no redirect. */
const UPGRADE_STYLE: AnswerStyle = { redirectToLogin: false, headOnly: true, noRouteIsDeny: false };

export interface Answer {
  readonly status: number;
  /** the audit line's decision */
  readonly decision: 'login' | 'deny' | 'error';
  /** the audit line's reason */
  readonly reason: ReasonCode;
  /** the error code a body names (a 401 body names a 401 reason, else `no_credentials`) */
  readonly bodyCode: ReasonCode;
  /** false: head only */
  readonly body: boolean;
  readonly headers: Record<string, string | string[]>;
  /** a script's 401: where the page should navigate to sign in (the JSON body's `sign_in_url`) */
  readonly signInUrl?: string;
}

export type { RequestHead };

export function answerFor(
  verdict: Verdict,
  scope: Scope,
  rt: Pick<Routing, 'loginTarget'>,
  req: RequestHead,
  style: AnswerStyle,
): Answer {
  const headers: Record<string, string | string[]> = {};
  if (scope.setCookies) headers['set-cookie'] = scope.setCookies;
  const { reason } = verdict;
  if (verdict.outcome === 'login') {
    const login = scope.route ? rt.loginTarget(scope.route) : undefined;
    const provider = login?.provider === undefined ? '' : `provider=${encodeURIComponent(login.provider)}&`;
    if (style.redirectToLogin && login?.canLogin && wantsRedirect(req)) {
      headers.location = `${login.startUrl}?${provider}rd=${encodeURIComponent(originalUrl(scope))}`;
      headers['cache-control'] = 'no-store';
      return { status: 302, decision: 'login', reason, bodyCode: reason, body: false, headers };
    }
    headers['www-authenticate'] = wwwAuthenticate(reason, false);
    const bodyCode = REASONS[reason].status === 401 ? reason : 'no_credentials';
    const answer = {
      status: 401,
      decision: 'login',
      reason,
      bodyCode,
      body: !style.headOnly,
      headers,
    } as const;
    if (!login?.canLogin || !isScriptRequest(req)) return answer;
    const rd = returnTarget(originalUrl(scope), req.headers.referer);
    return { ...answer, signInUrl: `${login.startUrl}?${provider}rd=${encodeURIComponent(rd)}` };
  }
  if (verdict.outcome === 'deny' || (reason === 'route_not_found' && style.noRouteIsDeny)) {
    if (scope.identity?.authType === 'bearer') {
      // Only a policy decision names scopes; a narrowed `/auth` allow (restrict) is no such case.
      const needed = reason === 'insufficient_scope' ? scope.decision?.requiredScope : undefined;
      headers['www-authenticate'] = wwwAuthenticate(reason, true, needed);
    }
    const headOnly = style.headOnly && verdict.outcome === 'deny';
    return { status: 403, decision: 'deny', reason, bodyCode: reason, body: !headOnly, headers };
  }
  return { status: REASONS[reason].status, decision: 'error', reason, bodyCode: reason, body: true, headers };
}

/**
 * Answers a non-allow verdict on `res`, and records the outcome for the audit line. `original`
 * describes the request decided when `req` is an edge proxy's subrequest about it (its method
 * and headers tell whether it was a browser navigation).
 */
export function respond(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  verdict: Verdict,
  rt: Pick<Routing, 'loginTarget'>,
  style: AnswerStyle,
  original: RequestHead = req,
): void {
  const answer = answerFor(verdict, scope, rt, original, style);
  scope.outcome = { decision: answer.decision, reason: answer.reason, status: answer.status };
  if (answer.body) {
    sendError(req, res, answer.bodyCode, {
      requestId: scope.requestId,
      headers: answer.headers,
      status: answer.status,
      ...(answer.signInUrl === undefined ? {} : { signInUrl: answer.signInUrl }),
    });
    return;
  }
  // nginx reads only the head of an auth_request answer and keeps its connection to Gatehouse
  // alive only when it knows no body follows.
  res.writeHead(answer.status, { 'cache-control': 'no-store', 'content-length': '0', ...answer.headers });
  res.end();
}

/** Refuses a websocket handshake with a bare status line; returns the status for the audit line. */
export function respondOnSocket(socket: Duplex, scope: Scope, verdict: Verdict, req: RequestHead): number {
  const answer = answerFor(verdict, scope, NO_LOGIN, req, UPGRADE_STYLE);
  scope.outcome = { decision: answer.decision, reason: answer.reason, status: answer.status };
  let head = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}\r\n`;
  for (const [name, value] of Object.entries(answer.headers))
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  socket.end(`${head}connection: close\r\ncontent-length: 0\r\n\r\n`);
  return answer.status;
}
const NO_LOGIN: Pick<Routing, 'loginTarget'> = {
  loginTarget: () => ({ startUrl: '', canLogin: false }),
};

/**
 * @param requiredScope space-separated scopes, already RFC 6749 scope-tokens (the config schema
 *   admits nothing else), so they go inside the quotes as they are
 */
export function wwwAuthenticate(
  reason: ReasonCode | undefined,
  deny: boolean,
  requiredScope?: string,
): string {
  if (deny) {
    const named = requiredScope === undefined ? '' : `, scope="${requiredScope}"`;
    return `Bearer realm="gatehouse", error="insufficient_scope"${named}`;
  }
  if (!reason || reason === 'no_credentials') return 'Bearer realm="gatehouse"';
  return `Bearer realm="gatehouse", error="invalid_token", error_description="${REASONS[reason].detail}"`;
}

/** A top-level browser navigation that can follow a redirect to the IdP (see `wantsRedirect`). */
export const isBrowserNavigation = wantsRedirect;
