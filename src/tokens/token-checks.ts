/**
 * The checks on a JWT that jose does not make, or makes too late: cheap header checks that must
 * run before any key is looked up, NumericDates that JSON lets be infinite, and `iat` in the
 * future. Each throws the `GatehouseError` of the check it makes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.1
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-4.1.6
 */
import type { JWTPayload } from 'jose';
import type { BearerIssuer } from './bearer-issuer.ts';
import { tokenError } from './token-errors.ts';
import { typMatches } from './token-shape.ts';

/** The cheap header checks, before any key is looked up. */
export function checkHeader(issuer: BearerIssuer, header: Readonly<Record<string, unknown>>): void {
  // We implement no JWS extension, so any `crit` header is one we must not ignore (RFC 7515 §4.1.11).
  if (header.crit !== undefined) throw tokenError('crit_unsupported');
  // The message stays constant: it must not echo attacker-chosen header text.
  if (typeof header.alg !== 'string' || !issuer.algorithms.has(header.alg))
    throw tokenError('alg_not_allowed');
  if (issuer.cfg.typ !== undefined && !typMatches(header.typ, issuer.cfg.typ))
    throw tokenError('typ_mismatch');
  // RFC 7515 §4.1.4: a kid is a string; anything else would only cost a JWKS refetch (issue-10).
  if (header.kid !== undefined && typeof header.kid !== 'string')
    throw tokenError('token_malformed', 'header "kid" is not a string');
}

/**
 * JSON.parse reads `1e400` as Infinity, which jose accepts as a number: a token that never
 * expires. NumericDates must be finite (issue-10).
 */
export function checkNumericDates(payload: Readonly<Record<string, unknown>>): void {
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    const value = payload[claim];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value)))
      throw tokenError('token_malformed', `claim "${claim}" is not a finite number`);
  }
}

/** jose checks `iat` only with maxTokenAge; a token issued in the future is not valid yet. */
export function checkIssuedAt(payload: JWTPayload, now: number, skew: number): void {
  if (payload.iat === undefined) return;
  if (typeof payload.iat !== 'number') throw tokenError('token_malformed', 'claim "iat" is not a number');
  if (payload.iat > Math.floor(now / 1000) + skew)
    throw tokenError('token_not_yet_valid', 'claim "iat" is in the future');
}
