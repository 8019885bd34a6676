/**
 * One identity assertion signed: with the signer's current key, the identity's fields as
 * claims, never outliving the credential it speaks for, and with the time until which it may
 * be handed out again (`./assertion.ts` caches it until then).
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.11
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2 htm, htu
 */
import { randomUUID } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';
import { GatehouseError } from '../errors.ts';
import type { Identity } from './identity.ts';
import type { SigningKey, SigningKeys } from './signing-keys.ts';

export const ASSERTION_TYP = 'gatehouse-assertion+jwt';
/** Reuse stops when this much (or a quarter of the token's lifetime, if more) remains. */
const MIN_REFRESH_MARGIN_MS = 15_000;

/** The request an assertion is bound to (`bindRequest`). */
export interface BoundRequest {
  method: string;
  url: string;
}

export interface SignedAssertion {
  token: string;
  /** epoch ms until which the token may be handed out again */
  reuseUntil: number;
}

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

/**
 * How long a token whose lifetime is `lifetimeMs` is handed out: until max(25 %, 15 s) of it
 * remains, but never more than half of it, so a short-lived token is still reused a little and the
 * upstream always receives one with a useful remaining life (and room for clock skew).
 */
export function refreshMargin(lifetimeMs: number): number {
  return Math.min(Math.max(lifetimeMs / 4, MIN_REFRESH_MARGIN_MS), lifetimeMs / 2);
}

/** `htu`: the request URL without query and fragment (RFC 9449 §4.2). */
function htuOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid('"request.url" must be an absolute URL');
  }
  u.search = '';
  u.hash = '';
  return u.href;
}

/** Signs assertions with the key that was current when it was made. */
export class AssertionMint {
  /** the signing key's id */
  readonly kid: string;
  readonly #issuer: string;
  readonly #ttlSec: number;
  readonly #key: SigningKey['key'];
  readonly #protectedHeader: Readonly<{ alg: string; kid: string; typ: string }>;

  constructor(keys: SigningKeys, issuer: string, ttlMs: number) {
    const { kid, alg, key } = keys.current;
    this.kid = kid;
    this.#key = key;
    this.#protectedHeader = Object.freeze({ alg, kid, typ: ASSERTION_TYP });
    this.#issuer = issuer;
    this.#ttlSec = Math.floor(ttlMs / 1000);
  }

  /** @throws GatehouseError `token_expired` / `session_expired` when the identity has expired */
  async sign(
    identity: Identity,
    audience: string,
    nowMs: number,
    request?: BoundRequest,
  ): Promise<SignedAssertion> {
    const iat = Math.floor(nowMs / 1000);
    const exp = this.#expiryOf(identity, iat);
    const claims = this.#claimsOf(identity, audience, request);
    claims.iat = iat;
    claims.exp = exp;
    const token = await new SignJWT(claims).setProtectedHeader(this.#protectedHeader).sign(this.#key);
    const lifetimeMs = exp * 1000 - nowMs;
    return { token, reuseUntil: nowMs + lifetimeMs - refreshMargin(lifetimeMs) };
  }

  #expiryOf(identity: Identity, iat: number): number {
    // Never outlive the credential the assertion speaks for.
    const exp = Math.min(iat + this.#ttlSec, Math.floor(identity.expiresAt));
    if (!(exp > iat)) {
      throw new GatehouseError(
        identity.authType === 'bearer' ? 'token_expired' : 'session_expired',
        'refusing to sign an assertion for an expired identity',
      );
    }
    return exp;
  }

  #claimsOf(identity: Identity, audience: string, request: BoundRequest | undefined): JWTPayload {
    const claims: JWTPayload = { iss: this.#issuer, aud: audience, sub: identity.sub };
    if (identity.email !== undefined) claims.email = identity.email;
    if (identity.preferredUsername !== undefined) claims.preferred_username = identity.preferredUsername;
    claims.groups = [...identity.groups];
    claims.roles = [...identity.roles];
    claims.auth_type = identity.authType;
    if (identity.idp !== undefined) claims.idp = identity.idp;
    if (request !== undefined) {
      claims.htm = request.method.toUpperCase();
      claims.htu = htuOf(request.url);
      claims.jti = randomUUID();
    }
    return claims;
  }
}
