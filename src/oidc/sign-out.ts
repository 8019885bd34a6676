/**
 * `{prefix}/sign_out?rd=…`: clear the session and, when the IdP supports it, end the IdP
 * session too (RP-initiated logout); then on to `rd`, or to the `{prefix}/signed_out` page. A cross-site page must not be able to sign users out
 * (logout CSRF), so a GET must carry `Sec-Fetch-Site: same-origin|none` – or, from browsers
 * without Fetch Metadata, an `Origin`/`Referer` (when present) on our own origin; a POST is
 * refused only when it is explicitly cross-site.
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html
 * @see https://www.w3.org/TR/fetch-metadata/#sec-fetch-site-header
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type EndpointContext,
  type EndpointOutcome,
  fail,
  type LoginShared,
  providerOf,
  queryOf,
  redirect,
} from './login-shared.ts';
import { safeRedirect } from './redirect.ts';

export async function handleSignOut(
  s: LoginShared,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
): Promise<EndpointOutcome> {
  if (req.method !== 'GET' && req.method !== 'POST') {
    return fail(req, res, ctx, 'bad_request', [], { Allow: 'GET, POST' });
  }
  if (!sameSiteEnough(req, ctx.publicOrigin)) {
    s.log.warn({ request_id: ctx.requestId }, 'sign_out refused: cross-site request');
    return fail(req, res, ctx, 'cross_site_request');
  }
  // Without a place to go (or asked to come back to the sign-out itself, which would loop), the
  // browser lands on `{prefix}/signed_out`, a page that says it worked. A public page is fine too:
  // `rd` passes the same checks as after a login.
  const signedOut = `${ctx.prefix}/signed_out`;
  const rdParam = queryOf(req, ctx).get('rd');
  let rd = signedOut;
  if (rdParam !== null && rdParam !== '') {
    const safe = safeRedirect(rdParam, ctx.publicOrigin, s.config.server.allowed_redirect_domains);
    if (safe === undefined) return fail(req, res, ctx, 'redirect_rejected');
    rd = isSignOut(safe, ctx) ? signedOut : safe;
  }
  const target = rd.startsWith('/') ? `${ctx.publicOrigin.origin}${rd}` : rd;

  const read = await s.codec.read(req.headers.cookie, s.now());
  const setCookies = s.codec.clear(read.present);
  const session = read.session;
  if (session) {
    try {
      await s.onSignOut?.(session);
    } catch (err) {
      s.log.error({ request_id: ctx.requestId, err }, 'onSignOut hook failed');
    }
  }

  // RP-initiated logout at the IdP the session came from; without a session, nowhere.
  const provider = session ? providerOf(s, session) : undefined;
  const endSession = provider?.client.as?.end_session_endpoint;
  let location = target;
  if (provider && endSession) {
    const url = new URL(endSession);
    if (session?.idToken) url.searchParams.set('id_token_hint', session.idToken);
    url.searchParams.set('client_id', provider.oidc.client_id);
    url.searchParams.set('post_logout_redirect_uri', target);
    location = url.href;
  }
  redirect(res, location, setCookies);
  const sub = typeof session?.claims.sub === 'string' ? session.claims.sub : undefined;
  const email = typeof session?.claims.email === 'string' ? session.claims.email : undefined;
  s.log.info({ request_id: ctx.requestId, sub, session_id: session?.id }, 'signed out');
  return { outcome: 'ok', ...(sub ? { sub } : {}), ...(email ? { email } : {}) };
}

/** `rd` is `{prefix}/sign_out` on our own origin (any query): signing out again would loop. */
function isSignOut(rd: string, ctx: EndpointContext): boolean {
  const url = new URL(rd, ctx.publicOrigin);
  return url.origin === ctx.publicOrigin.origin && url.pathname === `${ctx.prefix}/sign_out`;
}

/** Could this request have been made by a page on another site? */
export function sameSiteEnough(req: IncomingMessage, publicOrigin: URL): boolean {
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return true;
    // A POST from a sibling app on the same site is a deliberate sign-out button.
    return req.method === 'POST' && site === 'same-site';
  }
  const origin = header(req, 'origin');
  if (origin !== undefined) return origin === publicOrigin.origin;
  const referer = header(req, 'referer');
  if (referer !== undefined) {
    try {
      return new URL(referer).origin === publicOrigin.origin;
    } catch {
      return false;
    }
  }
  return true;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value.trim().toLowerCase() : undefined;
}
