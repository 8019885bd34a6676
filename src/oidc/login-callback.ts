/**
 * `{prefix}/callback`: finish the code flow. The order matters: the login cookie named by
 * `state` is found and cleared first (usable once, also when anything below fails), then
 * opened, then `state` compared, then the IdP's answer read; only a fully validated ID token
 * creates a session, with a fresh id and every chunk the browser already had replaced.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthResponseValidation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as oauth from 'oauth4webapi';
import { GatehouseError } from '../errors.ts';
import type { PageOptions } from '../http/send-error.ts';
import { exchangeCode } from './code-exchange.ts';
import { describeIdpError } from './idp-errors.ts';
import {
  type EndpointContext,
  type EndpointOutcome,
  fail,
  type LoginShared,
  queryOf,
  redirect,
} from './login-shared.ts';
import { sameString } from './login-state.ts';
import { safeRedirect } from './redirect.ts';
import { newSession } from './session-from-tokens.ts';

export async function handleCallback(
  s: LoginShared,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
  /** NAME of `/callback/NAME`; absent for `/callback` */
  pathProvider?: string,
): Promise<EndpointOutcome> {
  const setCookies: string[] = [];
  const refuse = (
    code: Parameters<typeof fail>[3],
    evidence: Record<string, unknown> = {},
    page: PageOptions = {},
  ) => {
    s.log.warn({ request_id: ctx.requestId, reason: code, ...evidence }, 'login callback failed');
    return fail(req, res, ctx, code, setCookies, {}, page);
  };
  if (req.method !== 'GET') return fail(req, res, ctx, 'bad_request', [], { Allow: 'GET' });

  const params = queryOf(req, ctx);
  const state = params.get('state');
  const id = s.cookies.idOf(state);
  if (id === undefined || state === null) return refuse('login_state_missing', { why: 'no usable state' });
  setCookies.push(s.cookies.expire(s.cookies.prefix + id));
  const sealed = s.cookies.valueOf(req.headers.cookie, id);
  if (sealed === undefined) return refuse('login_state_missing', { why: 'no login cookie' });
  const login = await s.cookies.unseal(sealed);
  if (login === undefined) return refuse('login_state_invalid');
  if (login.exp <= s.now()) return refuse('login_state_missing', { why: 'login cookie expired' });
  if (!sameString(login.state, state)) return refuse('state_mismatch');
  // The response must arrive at the callback of the provider the login was started for: with
  // several providers each has its own redirect_uri, and a login state never moves between them.
  const provider = s.byName.get(login.provider);
  const expected = s.byName.size > 1 ? login.provider : undefined;
  if (provider === undefined || pathProvider !== expected)
    return refuse('idp_mismatch', { started_for: login.provider, arrived_at: pathProvider ?? '' });
  // One use per state, on every replica: a callback replayed elsewhere (with a copied login
  // cookie) is refused before the code is ever sent to the IdP.
  if (s.claimState) {
    try {
      if (!(await s.claimState(state, Math.max(1000, login.exp - s.now()))))
        return refuse('login_state_missing', { why: 'state already used' });
    } catch {
      if (!s.storeFailOpen) return refuse('store_unavailable');
      s.log.warn({ request_id: ctx.requestId }, 'store unavailable: login state not marked used (fail open)');
    }
  }

  const { client } = provider;
  const as = client.as;
  if (as === undefined) return refuse('idp_unavailable');
  let callbackParams: URLSearchParams;
  try {
    // Also checks `iss` when the IdP sends it, and demands it when the IdP's metadata says it
    // does (RFC 9207: mix-up defence).
    callbackParams = oauth.validateAuthResponse(as, client.client, params, login.state);
  } catch (err) {
    // The IdP's own words (`access_denied: "User is not assigned to this app"`) tell the person
    // what to do; the page shortens and escapes them like any text.
    const said = err instanceof oauth.AuthorizationResponseError ? err.error_description : undefined;
    return refuse('idp_error', describeIdpError(err), said ? { idpMessage: said } : {});
  }

  let session: ReturnType<typeof newSession>;
  try {
    const { tokens, claims } = await exchangeCode(client, as, callbackParams, {
      redirectUri: provider.redirectUri,
      verifier: login.verifier,
      nonce: login.nonce,
      userinfo: provider.oidc.userinfo,
    });
    session = newSession(as.issuer, provider.name, tokens, claims, s.claimNames, s.now());
  } catch (err) {
    if (err instanceof GatehouseError) return refuse(err.code, { idp: err.cause });
    throw err;
  }

  // The target was checked at /start; the config may have changed since, so check again.
  const rd = safeRedirect(login.rd, ctx.publicOrigin, s.config.server.allowed_redirect_domains) ?? '/';
  try {
    // Every chunk the browser brought is replaced or expired: no fixation, no stale tail.
    setCookies.push(
      ...(await s.codec.write(session, s.codec.present(req.headers.cookie), s.now(), {
        userAgent: req.headers['user-agent'],
      })),
    );
  } catch (err) {
    if (err instanceof GatehouseError) return refuse(err.code);
    throw err;
  }
  try {
    s.onSession?.(session);
  } catch (err) {
    s.log.error({ request_id: ctx.requestId, err }, 'onSession hook failed');
  }
  const sub = session.claims.sub as string;
  const email = typeof session.claims.email === 'string' ? session.claims.email : undefined;
  s.log.info(
    { request_id: ctx.requestId, sub, idp: provider.name, session_id: session.id },
    'login complete',
  );
  redirect(res, rd, setCookies);
  return { outcome: 'ok', sub, idp: provider.name, ...(email ? { email } : {}) };
}
