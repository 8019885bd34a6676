/**
 * `{prefix}/start?rd=…[&provider=NAME]`: begin a code flow with PKCE (S256), `state` and
 * `nonce`, remembering them and the provider in a fresh login cookie, and send the browser to
 * the IdP. With several providers and no `provider`, answer the chooser page instead.
 * @see https://www.rfc-editor.org/rfc/rfc7636
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as oauth from 'oauth4webapi';
import { DEFAULT_PAGES } from '../pages/pages.ts';
import {
  type EndpointContext,
  type EndpointOutcome,
  fail,
  type LoginProvider,
  type LoginShared,
  queryOf,
  redirect,
} from './login-shared.ts';
import { MAX_LOGIN_COOKIES } from './login-state.ts';
import { safeRedirect } from './redirect.ts';

/** Authorization parameters Gatehouse owns; `extra_auth_params` may not override them. */
const RESERVED = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'response_mode',
  'request',
  'request_uri',
]);

export async function handleStart(
  s: LoginShared,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
): Promise<EndpointOutcome> {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return fail(req, res, ctx, 'bad_request', [], { Allow: 'GET' });
  const query = queryOf(req, ctx);
  const rdParam = query.get('rd');
  let rd = '/';
  if (rdParam !== null && rdParam !== '') {
    const safe = safeRedirect(rdParam, ctx.publicOrigin, s.config.server.allowed_redirect_domains);
    if (safe === undefined) {
      s.log.info({ request_id: ctx.requestId }, 'login start: redirect target refused');
      return fail(req, res, ctx, 'redirect_rejected');
    }
    rd = safe;
  }
  const named = query.get('provider');
  let p: LoginProvider | undefined;
  if (named !== null && named !== '') p = s.byName.get(named);
  else if (s.byName.size === 1) p = s.byName.values().next().value;
  else {
    // Several providers: offer those the target page accepts; with just one, go straight there.
    const allowed = s.providersFor?.(rd, ctx.publicOrigin);
    const all = [...s.byName.values()];
    const fitting = all.filter((e) => allowed === undefined || allowed.includes(e.name));
    if (fitting.length === 1) p = fitting[0];
    else {
      const pages = ctx.pages ?? DEFAULT_PAGES;
      const page = pages.chooser(fitting.length > 0 ? fitting : all, rd, ctx.requestId);
      res.writeHead(200, { ...pages.headers, 'content-length': Buffer.byteLength(page) });
      res.end(req.method === 'HEAD' ? undefined : page);
      return { outcome: 'ok' };
    }
  }
  if (p === undefined) return fail(req, res, ctx, 'unknown_provider');
  const as = p.client.as;
  if (as?.authorization_endpoint === undefined) return fail(req, res, ctx, 'idp_unavailable');

  const id = s.cookies.newId();
  const state = s.cookies.newState(id);
  const nonce = oauth.generateRandomNonce();
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const sealed = await s.cookies.seal({
    provider: p.name,
    state,
    nonce,
    verifier,
    rd,
    exp: s.now() + p.oidc.login_timeout,
  });

  // Each attempt adds a cookie; keep the newest few so abandoned logins cannot pile up
  // until the Cookie header is too large.
  const present = s.cookies.present(req.headers.cookie);
  const setCookies = present
    .slice(0, Math.max(0, present.length - (MAX_LOGIN_COOKIES - 1)))
    .map(s.cookies.expire);
  setCookies.push(s.cookies.set(id, sealed));

  const url = new URL(as.authorization_endpoint);
  for (const [name, value] of Object.entries(p.oidc.extra_auth_params)) {
    if (!RESERVED.has(name)) url.searchParams.set(name, value);
  }
  const scopes = p.oidc.scopes.includes('openid') ? p.oidc.scopes : ['openid', ...p.oidc.scopes];
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', p.oidc.client_id);
  url.searchParams.set('redirect_uri', p.redirectUri);
  url.searchParams.set('scope', scopes.join(' '));
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  redirect(res, url.href, setCookies);
  return { outcome: 'ok' };
}
