/**
 * Logout token validation, as the spec demands: signature against the claimed IdP's JWKS,
 * `iss`, `aud`, `iat`, the back-channel `events` member, `sid` or `sub`, no `nonce`, `typ` when
 * present, and a `jti` (whose replay check is the endpoint's, on the shared store).
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
 */
import { decodeJwt, decodeProtectedHeader, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import type { OidcProviderConfig } from '../config/providers.ts';
import { GatehouseError } from '../errors.ts';
import type { JwksCache } from '../tokens/jwks-cache.ts';
import type { OidcClient } from './oidc-client.ts';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Oldest `iat` accepted (besides clock skew): logout tokens are sent at once. */
export const MAX_TOKEN_AGE_S = 300;

/** One provider whose logout tokens this endpoint accepts. */
export interface LogoutProvider {
  oidc: OidcProviderConfig;
  client: OidcClient;
  /** the IdP's keys for logout tokens */
  jwks: JwksCache;
}

/** A logout token that passed every check but the `jti` replay check. */
export interface VerifiedLogoutToken {
  issuer: string;
  /** the issuing provider's clock skew, seconds */
  skewS: number;
  iat: number;
  exp: number | undefined;
  jti: string;
  sid: string | undefined;
  sub: string | undefined;
}

class LogoutTokenError extends Error {}

/** @throws LogoutTokenError, a jose error or GatehouseError: {@link whyInvalid} says which check failed */
export async function verifyLogoutToken(
  token: string,
  providers: readonly LogoutProvider[],
  now: () => number,
): Promise<VerifiedLogoutToken> {
  const { p, issuer } = providerFor(token, providers);
  const skewS = p.oidc.clock_skew / 1000;
  checkTyp(token);
  const { payload } = await jwtVerify(token, p.jwks.getKey, {
    issuer,
    audience: p.oidc.client_id,
    algorithms: p.oidc.id_token_algorithms,
    clockTolerance: skewS,
    maxTokenAge: MAX_TOKEN_AGE_S,
    requiredClaims: ['iat', 'jti'],
    currentDate: new Date(now()),
  });
  return { issuer, skewS, ...logoutClaims(payload, now() / 1000 + skewS) };
}

/** What to log for a token that failed verification: the failed check, never the token. */
export function whyInvalid(err: unknown): string {
  return err instanceof LogoutTokenError ||
    err instanceof joseErrors.JOSEError ||
    err instanceof GatehouseError
    ? err.message
    : 'validation failed';
}

/**
 * The provider a logout token claims to come from, by its (not yet verified) `iss` and
 * `aud`: only that provider's keys and client id then decide whether it is genuine.
 */
function providerFor(
  token: string,
  providers: readonly LogoutProvider[],
): { p: LogoutProvider; issuer: string } {
  let claimed: JWTPayload;
  try {
    claimed = decodeJwt(token);
  } catch {
    throw new LogoutTokenError('not a JWT');
  }
  const aud = Array.isArray(claimed.aud) ? claimed.aud : [claimed.aud];
  for (const p of providers) {
    const issuer = p.client.as?.issuer;
    if (issuer !== undefined && issuer === claimed.iss && aud.includes(p.oidc.client_id))
      return { p, issuer };
  }
  throw new LogoutTokenError('no configured provider has this issuer and audience');
}

function checkTyp(token: string): void {
  let typ: unknown;
  try {
    typ = decodeProtectedHeader(token).typ;
  } catch {
    throw new LogoutTokenError('not a JWS');
  }
  if (typ !== undefined && !/^(application\/)?logout\+jwt$/i.test(String(typ)))
    throw new LogoutTokenError('typ is not logout+jwt');
}

/** The checks `jwtVerify` does not make, on a payload whose signature, iss, aud and age it did. */
function logoutClaims(
  payload: JWTPayload,
  latestIatS: number,
): Omit<VerifiedLogoutToken, 'issuer' | 'skewS'> {
  if (typeof payload.iat !== 'number' || payload.iat > latestIatS)
    throw new LogoutTokenError('iat is in the future');
  if (!hasLogoutEvent(payload)) throw new LogoutTokenError('events lacks the back-channel logout event');
  if ('nonce' in payload) throw new LogoutTokenError('a logout token must not carry a nonce');
  const sid = optionalString(payload, 'sid');
  const sub = optionalString(payload, 'sub');
  if (sid === undefined && sub === undefined) throw new LogoutTokenError('neither sid nor sub');
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256)
    throw new LogoutTokenError('jti is not a string');
  return { iat: payload.iat, exp: payload.exp, jti: payload.jti, sid, sub };
}

/** `events` has the back-channel logout member, and it is a JSON object. */
function hasLogoutEvent(payload: JWTPayload): boolean {
  const events = payload.events as Record<string, unknown> | undefined;
  const event = typeof events === 'object' && events !== null ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
  return typeof event === 'object' && event !== null && !Array.isArray(event);
}

function optionalString(payload: JWTPayload, name: 'sid' | 'sub'): string | undefined {
  const value = payload[name];
  if (value !== undefined && (typeof value !== 'string' || value === ''))
    throw new LogoutTokenError(`${name} is not a string`);
  return value;
}
