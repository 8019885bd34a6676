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
 * Bodies are `sendError`'s (an error page from `src/pages/` or JSON by `Accept`), with the
 * registry's client-safe texts: they name the reason, never internals. A navigating browser whose
 * session expired, or whose session is from a provider the route does not accept, gets a page
 * saying so (401) instead of a silent redirect to sign in ({@link pageAnswer}). An edge proxy that reads only the head (nginx
 * `auth_request` from a trusted peer) gets none.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { REASONS, type ReasonCode } from '../errors.ts';
import { originalUrl } from '../http/original-url.ts';
import { isScriptRequest, type RequestHead, returnTarget, wantsRedirect } from '../http/request-kind.ts';
import { type PageOptions, prefersHtml, sendError } from '../http/send-error.ts';
import { DEFAULT_PAGES, type Pages } from '../pages/pages.ts';
import type { Verdict } from './check.ts';
import { dpopAnswer } from './dpop-challenge.ts';
import { publicLocation } from './public-host.ts';
import { resourceMetadataUrl, withResourceMetadata } from './resource-metadata.ts';
import type { Routing, Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

/** How one entry point's answers differ from another's; everything else is shared. */
export interface AnswerStyle {
  /** a browser navigation may be sent to sign in (an auth subrequest cannot pass a redirect on) */
  readonly redirectToLogin: boolean;
  /** the peer reads only the head of 401/403 answers: no body (the audit line has the reason) */
  readonly headOnly: boolean;
  /** no route is a deny (403), as nginx `auth_request` understands only 2xx, 401 and 403 */
  readonly noRouteIsDeny: boolean;
  /**
   * `rate_limited` is sent as 403 with its `Retry-After`: nginx `auth_request` turns any status
   * but 2xx, 401 and 403 into a 500 and sets no `auth_request_set` variable for it, so the
   * shipped snippet maps a 403 that carries `Retry-After` back to the client's 429.
   */
  readonly limitAsDeny?: boolean;
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
const AUTH_REQUEST_PROXY: AnswerStyle = {
  redirectToLogin: false,
  headOnly: true,
  noRouteIsDeny: true,
  limitAsDeny: true,
};
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
  /** `wrong_host`: the address the body tells the client to open */
  readonly open?: string;
  /** what an HTML body offers beyond the reason's own page (see {@link pageAnswer}) */
  readonly page?: AnswerPage;
  /** a script's 401: where the page should navigate to sign in (the JSON body's `sign_in_url`) */
  readonly signInUrl?: string;
}

/**
 * A browser navigation that needs a login but should not be sent away silently:
 * - `signIn`: its session expired (idle or absolute) – a page says so, with "Sign in again"
 *   leading to this login URL (which carries `rd`)
 * - `switchTo`: it is signed in with a provider this route does not accept – a page names both
 *   and offers a sign-in with each accepted one (which replaces the session)
 */
export type AnswerPage =
  | { readonly signIn: string }
  | { readonly switchTo: readonly string[]; readonly rd: string };

/** Expiry reasons a navigating browser is told about instead of silently redirected. */
const EXPIRED: ReadonlySet<ReasonCode> = new Set(['session_expired', 'session_idle']);

export type { RequestHead };

export function answerFor(
  verdict: Verdict,
  scope: Scope,
  rt: Pick<Routing, 'loginTarget' | 'publicOrigin'> & Partial<Pick<Runtime, 'config'>>,
  req: RequestHead,
  style: AnswerStyle,
): Answer {
  const headers: Record<string, string | string[]> = {};
  if (scope.setCookies) headers['set-cookie'] = scope.setCookies;
  if (scope.limitHeaders) Object.assign(headers, scope.limitHeaders);
  const { reason } = verdict;
  if (reason === 'wrong_host' && rt.publicOrigin !== undefined) {
    // The same page on public_url: a navigation goes there, anything else is told where it is.
    const open = publicLocation(scope, rt.publicOrigin);
    const mode = req.headers['sec-fetch-mode'];
    if ((req.method === 'GET' || req.method === 'HEAD') && (mode === undefined || mode === 'navigate')) {
      headers.location = open;
      headers['cache-control'] = 'no-store';
      return { status: 302, decision: 'error', reason, bodyCode: reason, body: false, headers };
    }
    return { status: 421, decision: 'error', reason, bodyCode: reason, body: true, headers, open };
  }
  if (verdict.outcome === 'login') {
    const login = scope.route ? rt.loginTarget(scope.route) : undefined;
    const provider = login?.provider === undefined ? '' : `provider=${encodeURIComponent(login.provider)}&`;
    if (style.redirectToLogin && login?.canLogin && wantsRedirect(req)) {
      const rd = originalUrl(scope);
      const location = `${login.startUrl}?${provider}rd=${encodeURIComponent(rd)}`;
      const page = pageAnswer(reason, scope, location, rd);
      if (page) {
        headers['www-authenticate'] = wwwAuthenticate(reason, false);
        return { status: 401, decision: 'login', reason, bodyCode: reason, body: true, headers, page };
      }
      headers.location = location;
      headers['cache-control'] = 'no-store';
      return { status: 302, decision: 'login', reason, bodyCode: reason, body: false, headers };
    }
    headers['www-authenticate'] = wwwAuthenticate(reason, false);
    const dpop = dpopAnswer(scope, reason, headers['www-authenticate']);
    if (dpop) headers['www-authenticate'] = dpop.wwwAuthenticate;
    if (dpop?.nonce) headers['dpop-nonce'] = dpop.nonce;
    const metadata = resourceMetadataUrl(scope, scope.route, rt);
    if (metadata) headers['www-authenticate'] = withResourceMetadata(headers['www-authenticate'], metadata);
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
  if (reason === 'rate_limited' && style.limitAsDeny)
    return { status: 403, decision: 'error', reason, bodyCode: reason, body: false, headers };
  return { status: REASONS[reason].status, decision: 'error', reason, bodyCode: reason, body: true, headers };
}

/**
 * The page a navigating browser gets instead of a silent redirect to sign in, or undefined for
 * the redirect. An expired session ends with a page: being sent to the IdP without a word looks
 * like a bug, and the IdP's SSO may sign the person straight back in, hiding that it ever
 * expired. A session from a provider the route does not take is kept until the person chooses.
 */
function pageAnswer(reason: ReasonCode, scope: Scope, signIn: string, rd: string): AnswerPage | undefined {
  if (EXPIRED.has(reason)) return { signIn };
  if (!scope.otherSession) return undefined;
  const accepted = scope.route?.config.providers;
  if (accepted && accepted.length > 0) return { switchTo: accepted, rd };
  return undefined;
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
  rt: Pick<Routing, 'loginTarget' | 'publicOrigin' | 'pages'> & Partial<Pick<Runtime, 'config'>>,
  style: AnswerStyle,
  original: RequestHead = req,
): void {
  const answer = answerFor(verdict, scope, rt, original, style);
  scope.outcome = { decision: answer.decision, reason: answer.reason, status: answer.status };
  if (answer.page && 'switchTo' in answer.page && scope.otherSession && prefersHtml(req.headers.accept)) {
    sendProviderSwitch(req, res, scope, answer, answer.page, rt.pages ?? DEFAULT_PAGES);
    return;
  }
  if (answer.body) {
    sendError(req, res, answer.bodyCode, {
      requestId: scope.requestId,
      headers: answer.headers,
      status: answer.status,
      page: pageOptions(scope, answer, rt.pages),
      ...(answer.signInUrl === undefined ? {} : { signInUrl: answer.signInUrl }),
    });
    return;
  }
  // nginx reads only the head of an auth_request answer and keeps its connection to Gatehouse
  // alive only when it knows no body follows.
  res.writeHead(answer.status, { 'cache-control': 'no-store', 'content-length': '0', ...answer.headers });
  res.end();
}

/** What the error page may say: who is signed in (a 403), where to sign in again, what to retry. */
function pageOptions(scope: Scope, answer: Answer, pages: Pages | undefined): PageOptions {
  const out: { -readonly [K in keyof PageOptions]: PageOptions[K] } = {};
  if (pages) out.pages = pages;
  if (scope.identity && answer.status === 403) out.who = (pages ?? DEFAULT_PAGES).who(scope.identity);
  if (answer.page && 'signIn' in answer.page) out.signIn = answer.page.signIn;
  if (scope.target) out.retry = originalUrl(scope);
  if (answer.open !== undefined) out.open = answer.open;
  return out;
}

function sendProviderSwitch(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  answer: Answer,
  to: { readonly switchTo: readonly string[]; readonly rd: string },
  pages: Pages,
): void {
  const html = pages.providerSwitch({
    who: pages.who(scope.otherSession!),
    accepted: to.switchTo.map((name) => ({ name, label: pages.idpLabel(name) })),
    rd: to.rd,
    requestId: scope.requestId,
  });
  res.writeHead(answer.status, {
    ...answer.headers,
    ...pages.headers,
    'content-length': Buffer.byteLength(html),
    'x-request-id': scope.requestId,
  });
  res.end(req.method === 'HEAD' ? undefined : html);
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
