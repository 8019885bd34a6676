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
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0) {
    out.accessTokenExpiresAt = Math.floor(now / 1000) + Math.floor(expiresIn);
  } else {
    delete out.accessTokenExpiresAt;
  }
  if (typeof tokens.refresh_token === 'string') out.refreshToken = tokens.refresh_token;
  if (typeof tokens.id_token === 'string') out.idToken = tokens.id_token;
  return out;
}
