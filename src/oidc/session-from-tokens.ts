/**
 * A new {@link SessionData} from a completed code exchange, or an updated one from a refresh.
 * The session id is always fresh randomness: nothing the browser brought (a cookie planted
 * before login) and nothing the IdP chose survives into it, so a session cannot be fixated.
 * @see https://owasp.org/www-community/attacks/Session_fixation
 */
import { randomBytes } from 'node:crypto';
import type * as oauth from 'oauth4webapi';
import { pickSessionClaims, type SessionData } from '../session/session-data.ts';

export function newSession(
  iss: string,
  idp: string,
  tokens: oauth.TokenEndpointResponse,
  claims: Record<string, unknown>,
  claimNames: ReadonlySet<string>,
  now = Date.now(),
): SessionData {
  const nowSec = Math.floor(now / 1000);
  const kept = pickSessionClaims(claims, claimNames);
  return withTokens(
    {
      v: 1,
      id: randomBytes(18).toString('base64url'),
      iss,
      idp,
      claims: kept,
      createdAt: nowSec,
      lastSeenAt: nowSec,
      ...(typeof kept.sid === 'string' ? { idpSid: kept.sid } : {}),
    },
    tokens,
    now,
  );
}

/**
 * `session` with the tokens of a token response: a refresh response may omit the refresh token
 * (keep the old one) or the ID token (keep the old one, for `id_token_hint`).
 */
export function withTokens(
  session: SessionData,
  tokens: oauth.TokenEndpointResponse,
  now = Date.now(),
): SessionData {
  const out: SessionData = { ...session, accessToken: tokens.access_token };
  const expiresIn = tokens.expires_in;
  const jwtExp = accessTokenExp(tokens.access_token);
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0) {
    out.accessTokenExpiresAt = Math.floor(now / 1000) + Math.floor(expiresIn);
  } else if (jwtExp !== undefined) {
    out.accessTokenExpiresAt = jwtExp;
  } else {
    delete out.accessTokenExpiresAt;
  }
  if (typeof tokens.refresh_token === 'string') out.refreshToken = tokens.refresh_token;
  if (typeof tokens.id_token === 'string') out.idToken = tokens.id_token;
  return out;
}

/** Most access-token characters looked at for an `exp`. */
const MAX_JWT = 16_384;

/**
 * The `exp` of a JWT access token, for a token response without `expires_in` (RFC 6749 §5.1
 * only recommends it). Unverified, and used for nothing but deciding when to refresh: the token
 * came straight from the IdP's token endpoint, and the upstream checks it on its own.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export function accessTokenExp(token: string): number | undefined {
  if (typeof token !== 'string' || token.length > MAX_JWT) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    const exp = (payload as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isSafeInteger(exp) && exp > 0 ? exp : undefined;
  } catch {
    return undefined;
  }
}
