/**
 * Which key of an issuer's JWK Set verifies a JWS. One rule for every token Gatehouse checks
 * against an IdP's keys – bearer tokens, ID tokens, logout tokens – because each reaches it
 * through the JWKS cache's key resolver (`JwksCache.getKey` in `jwks-cache.ts`).
 *
 * The header must pick exactly one key. Without `kid` that holds only while a single key of the
 * set fits the token's `alg`: OpenID Connect Core §10.1 requires `kid` as soon as the set holds
 * more. Trying each candidate instead (what jose leaves to the caller) would multiply the
 * signature work a hostile token can cause, and would accept a token the ID-token path refuses.
 * The filter mirrors jose's `createLocalJWKSet` and oauth4webapi's key selection.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#Signing
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-4.1.4
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4.5
 */
import type { JWK } from 'jose';
import { tokenError } from './token-errors.ts';

/** The (unverified) header members that select a key. */
export interface KeyHint {
  readonly alg?: unknown;
  readonly kid?: unknown;
}

/** The curve each algorithm requires; algorithms not listed take any key of their type. */
const CURVES: Readonly<Record<string, string>> = {
  ES256: 'P-256',
  ES384: 'P-384',
  ES512: 'P-521',
  EdDSA: 'Ed25519',
  Ed25519: 'Ed25519',
};

function keyTypeOf(alg: string): string | undefined {
  if (alg.startsWith('RS') || alg.startsWith('PS')) return 'RSA';
  if (alg.startsWith('ES')) return 'EC';
  if (alg === 'EdDSA' || alg === 'Ed25519') return 'OKP';
  return undefined;
}

function fits(jwk: JWK, alg: string, kty: string, kid: string | undefined): boolean {
  return (
    jwk.kty === kty &&
    (kid === undefined || jwk.kid === kid) &&
    (jwk.alg === undefined || jwk.alg === alg) &&
    (jwk.use === undefined || jwk.use === 'sig') &&
    (jwk.key_ops === undefined || (Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) &&
    (CURVES[alg] === undefined || jwk.crv === CURVES[alg])
  );
}

/**
 * The one key of `keys` that `header` selects, or `undefined` when none fits (the caller may
 * refetch the set once, then refuses with `unknown_kid`).
 *
 * @throws GatehouseError `unknown_kid` when several keys fit: a token without `kid` while the
 *   set holds more than one key for its `alg`, or a `kid` the set publishes more than once.
 */
export function selectKey(keys: readonly JWK[], header: KeyHint): JWK | undefined {
  const { alg, kid } = header;
  const kty = typeof alg === 'string' ? keyTypeOf(alg) : undefined;
  // A non-string kid names no key (RFC 7515 §4.1.4); it must not widen the choice to all of them.
  if (kty === undefined || (kid !== undefined && typeof kid !== 'string')) return undefined;
  let found: JWK | undefined;
  let count = 0;
  for (const jwk of keys) {
    if (!fits(jwk, alg as string, kty, kid)) continue;
    found ??= jwk;
    count++;
  }
  if (count > 1) {
    // Constant text plus our own count: nothing here echoes the token's header.
    throw tokenError(
      'unknown_kid',
      kid === undefined
        ? `the token has no "kid" and ${count} keys of the JWK Set fit its "alg"`
        : `${count} keys of the JWK Set share the token's "kid"`,
    );
  }
  return found;
}
