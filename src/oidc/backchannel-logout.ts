/**
 * `POST {prefix}/backchannel_logout`: the IdP tells us a user's session ended. The logout token
 * is validated as the spec demands (signature against the IdP's JWKS, `iss`, `aud`, `iat`,
 * the back-channel `events` member, `sid` or `sub`, no `nonce`, `typ` when present, a `jti`
 * never seen before on any replica), then the matching sessions are revoked through the store:
 * by IdP session (`sid`) when the token names one, else every session of `sub` created so far.
 * Every replica refuses them on its next request. A bad token answers 400
 * `logout_token_invalid`, logged with the reason and never the token.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import type { OidcProviderConfig } from '../config/providers.ts';
import type { ReasonCode } from '../errors.ts';
import { GatehouseError } from '../errors.ts';
import { sendError } from '../http/send-error.ts';
import type { Log } from '../observe/logger.ts';
import type { SharedStore } from '../store/store.ts';
import type { JwksCache } from '../tokens/jwks-cache.ts';
import type { EndpointContext, EndpointOutcome } from './login-shared.ts';
import type { OidcClient } from './oidc-client.ts';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token is a few hundred bytes; anything near this is not one. */
const MAX_BODY_BYTES = 16 * 1024;
/** Oldest `iat` accepted (besides clock skew): logout tokens are sent at once. */
const MAX_TOKEN_AGE_S = 300;

/** One provider whose logout tokens this endpoint accepts. */
export interface LogoutProvider {
  oidc: OidcProviderConfig;
  client: OidcClient;
  /** the IdP's keys for logout tokens */
  jwks: JwksCache;
}

export interface BackchannelLogoutDeps {
  providers: readonly LogoutProvider[];
  store: SharedStore;
  log: Log;
  /** `session.max_lifetime` in seconds: how long a revocation must be remembered */
  maxLifetimeS: number;
  storeFailOpen: boolean;
  now?: () => number;
}

class LogoutTokenError extends Error {}

export function createBackchannelLogout(deps: BackchannelLogoutDeps) {
  const log = deps.log.child({ component: 'backchannel_logout' });
  const now = deps.now ?? Date.now;

  function answer(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: EndpointContext,
    code: ReasonCode,
    why: string,
  ): EndpointOutcome {
    log.warn({ request_id: ctx.requestId, reason: code, why }, 'back-channel logout refused');
    sendError(req, res, code, { requestId: ctx.requestId });
    return { outcome: 'error', reason: code };
  }

  /**
   * The provider a logout token claims to come from, by its (not yet verified) `iss` and
   * `aud`: only that provider's keys and client id then decide whether it is genuine.
   */
  function providerFor(token: string): { p: LogoutProvider; issuer: string } {
    let claimed: JWTPayload;
    try {
      claimed = decodeJwt(token);
    } catch {
      throw new LogoutTokenError('not a JWT');
    }
    const aud = Array.isArray(claimed.aud) ? claimed.aud : [claimed.aud];
    for (const p of deps.providers) {
      const issuer = p.client.as?.issuer;
      if (issuer !== undefined && issuer === claimed.iss && aud.includes(p.oidc.client_id))
        return { p, issuer };
    }
    throw new LogoutTokenError('no configured provider has this issuer and audience');
  }

  async function validate(token: string, p: LogoutProvider, issuer: string): Promise<JWTPayload> {
    const skewS = p.oidc.clock_skew / 1000;
    let typ: unknown;
    try {
      typ = decodeProtectedHeader(token).typ;
    } catch {
      throw new LogoutTokenError('not a JWS');
    }
    if (typ !== undefined && !/^(application\/)?logout\+jwt$/i.test(String(typ)))
      throw new LogoutTokenError('typ is not logout+jwt');
    const { payload } = await jwtVerify(token, p.jwks.getKey, {
      issuer,
      audience: p.oidc.client_id,
      algorithms: p.oidc.id_token_algorithms,
      clockTolerance: skewS,
      maxTokenAge: MAX_TOKEN_AGE_S,
      requiredClaims: ['iat', 'jti'],
      currentDate: new Date(now()),
    });
    if (typeof payload.iat !== 'number' || payload.iat > now() / 1000 + skewS)
      throw new LogoutTokenError('iat is in the future');
    const events = payload.events as Record<string, unknown> | undefined;
    const event =
      typeof events === 'object' && events !== null ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
    if (typeof event !== 'object' || event === null || Array.isArray(event))
      throw new LogoutTokenError('events lacks the back-channel logout event');
    if ('nonce' in payload) throw new LogoutTokenError('a logout token must not carry a nonce');
    const sid = payload.sid;
    const sub = payload.sub;
    if (sid !== undefined && (typeof sid !== 'string' || sid === ''))
      throw new LogoutTokenError('sid is not a string');
    if (sub !== undefined && (typeof sub !== 'string' || sub === ''))
      throw new LogoutTokenError('sub is not a string');
    if (sid === undefined && sub === undefined) throw new LogoutTokenError('neither sid nor sub');
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256)
      throw new LogoutTokenError('jti is not a string');
    return payload;
  }

  return async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: EndpointContext,
  ): Promise<EndpointOutcome> {
    if (req.method !== 'POST') {
      sendError(req, res, 'bad_request', { requestId: ctx.requestId, headers: { Allow: 'POST' } });
      return { outcome: 'error', reason: 'bad_request' };
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      return answer(req, res, ctx, 'logout_token_invalid', 'not a form post');
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined)
      return answer(req, res, ctx, 'logout_token_invalid', 'body too large or unreadable');
    const tokens = new URLSearchParams(body).getAll('logout_token');
    if (tokens.length !== 1 || !tokens[0])
      return answer(req, res, ctx, 'logout_token_invalid', 'no single logout_token');

    if (deps.providers.every((p) => p.client.as === undefined))
      return answer(req, res, ctx, 'idp_unavailable', 'IdP discovery not done');
    let claims: JWTPayload;
    let iss: string;
    let skewS: number;
    try {
      const { p, issuer } = providerFor(tokens[0]);
      iss = issuer;
      skewS = p.oidc.clock_skew / 1000;
      claims = await validate(tokens[0], p, issuer);
    } catch (err) {
      const why =
        err instanceof LogoutTokenError ||
        err instanceof joseErrors.JOSEError ||
        err instanceof GatehouseError
          ? err.message
          : 'validation failed';
      return answer(req, res, ctx, 'logout_token_invalid', why);
    }

    const nowS = Math.floor(now() / 1000);
    // Remember the jti as long as the token could still be accepted.
    const validUntilS = Math.max(claims.iat! + MAX_TOKEN_AGE_S, claims.exp ?? 0) + skewS;
    const jtiKey = `jti:${createHash('sha256').update(`${iss}\0${claims.jti}`).digest('base64url')}`;
    try {
      if (!(await deps.store.claimOnce(jtiKey, Math.max(60_000, (validUntilS - nowS) * 1000))))
        return answer(req, res, ctx, 'logout_token_invalid', 'jti replayed');
    } catch {
      if (!deps.storeFailOpen) return answer(req, res, ctx, 'store_unavailable', 'jti not recorded');
    }

    const until = nowS + deps.maxLifetimeS;
    const sid = claims.sid as string | undefined;
    try {
      if (sid !== undefined) await deps.store.revokeSid(iss, sid, until);
      else await deps.store.revokeSubject(iss, claims.sub!, nowS, until);
    } catch {
      // This replica refuses the sessions already and writes the entry back when the store returns.
      if (!deps.storeFailOpen) return answer(req, res, ctx, 'store_unavailable', 'revocation not shared');
    }
    log.info(
      { request_id: ctx.requestId, sub: claims.sub, by: sid !== undefined ? 'sid' : 'sub' },
      'back-channel logout: sessions revoked',
    );
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0' });
    res.end();
    return { outcome: 'ok', ...(claims.sub ? { sub: claims.sub } : {}) };
  };
}

/** The body as text, or undefined when it exceeds `max` bytes or the stream fails. */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: string | undefined) => {
      if (done) return;
      done = true;
      resolve(value);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        finish(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => finish(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => finish(undefined));
  });
}
