/**
 * Bearer token verification, locally: the token's own (unverified) `iss` picks a configured
 * issuer before any key is fetched, cheap header checks (`crit`, `alg`, `typ`, `kid`) run next,
 * then jose's `jwtVerify` checks the signature against the one key of the issuer's cached JWKS
 * that the header selects (`selectKey`: a token without `kid` is refused with `unknown_kid` when
 * several keys fit its `alg`), and the claims. Opaque tokens go to the introspection endpoint of
 * the one issuer that has one. Successes are cached by token hash until `exp`, so a warm verify
 * is a hash and a map lookup.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */

import { type JWTPayload, jwtVerify } from 'jose';
import type { Dispatcher } from 'undici';
import type { BearerIssuerConfig } from '../config/schema.ts';
import type { Log } from '../observe/logger.ts';
import { type BearerIssuer, issuersByName } from './bearer-issuer.ts';
import type { JwksRefreshResult, JwksStatus } from './jwks-cache.ts';
import { certificateThumbprint } from './mtls-binding.ts';
import { checkHeader, checkIssuedAt, checkNumericDates } from './token-checks.ts';
import { fingerprint, fromJoseError, tokenError, tokenHash } from './token-errors.ts';
import { MAX_TOKEN_LENGTH, parseToken } from './token-shape.ts';
import { type CacheWindow, type VerifiedToken, VerifiedTokenCache } from './verified-token-cache.ts';

export interface BearerVerifier {
  /**
   * Verify a bearer token at `now` (epoch ms, default `Date.now()`).
   * Rejects with a `GatehouseError` carrying the precise reason code.
   */
  verify(token: string, now?: number): Promise<VerifiedToken>;
  /** true once every issuer has a key set loaded (readiness) */
  readonly ready: boolean;
  readonly stats: { hits: number; misses: number };
  /** each issuer's key set, for the admin live view */
  status(): { issuer: string; keys: JwksStatus }[];
  /** Kick off discovery and JWKS loads; failures are logged and retried, never thrown. */
  start(): Promise<void>;
  close(): void;
}

export interface BearerVerifierOptions {
  issuers: readonly BearerIssuerConfig[];
  /** verified-token cache entries (`cache.tokens`); 0 disables the cache */
  cacheSize: number;
  dispatcher: Dispatcher;
  log: Log;
  onJwksRefresh?(issuer: string, result: JwksRefreshResult): void;
}

export function createBearerVerifier(opts: BearerVerifierOptions): BearerVerifier {
  return new LocalBearerVerifier(opts);
}

/** The steps of a verify, in order; each throws the `GatehouseError` of the check it makes. */
class LocalBearerVerifier implements BearerVerifier {
  readonly #issuers: ReadonlyMap<string, BearerIssuer>;
  /** An opaque token names no issuer: only one introspection endpoint can be asked unambiguously. */
  readonly #opaqueIssuer: BearerIssuer | undefined;
  readonly #cache: VerifiedTokenCache;
  readonly #log: Log;

  constructor(opts: BearerVerifierOptions) {
    this.#cache = new VerifiedTokenCache(opts.cacheSize);
    this.#issuers = issuersByName(opts.issuers, opts);
    const introspecting = [...this.#issuers.values()].filter((i) => i.introspector !== undefined);
    this.#opaqueIssuer = introspecting.length === 1 ? introspecting[0] : undefined;
    this.#log = opts.log;
  }

  verify(token: string, now = Date.now()): Promise<VerifiedToken> {
    // Not async on purpose: a cache hit settles without a jose call or an extra microtask hop.
    if (typeof token !== 'string') return Promise.reject(tokenError('token_malformed'));
    if (token.length > MAX_TOKEN_LENGTH) return Promise.reject(tokenError('token_too_large'));
    const hash = tokenHash(token);
    try {
      const hit = this.#cache.get(hash, now);
      if (hit !== undefined) return Promise.resolve(hit);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#verifyUncached(token, hash, now);
  }

  get ready(): boolean {
    for (const issuer of this.#issuers.values()) if (!issuer.ready) return false;
    return true;
  }

  get stats(): { hits: number; misses: number } {
    return this.#cache.stats;
  }

  status(): { issuer: string; keys: JwksStatus }[] {
    return [...this.#issuers.values()].map((i) => ({ issuer: i.cfg.issuer, keys: i.keys.status() }));
  }

  async start(): Promise<void> {
    await Promise.all([...this.#issuers.values()].map((issuer) => issuer.keys.refresh()));
  }

  close(): void {
    for (const issuer of this.#issuers.values()) issuer.keys.close();
    this.#cache.clear();
  }

  async #verifyUncached(token: string, hash: string, now: number): Promise<VerifiedToken> {
    const parsed = parseToken(token);
    if (parsed.kind === 'opaque') return this.#introspect(token, hash, now);
    const { header, payload } = parsed;
    const issuer = this.#issuerOf(payload);
    checkHeader(issuer, header);
    checkNumericDates(payload);
    const claims = await this.#verifySignature(issuer, token, hash, now);
    checkIssuedAt(claims, now, issuer.skew);
    // jose required `exp` (`requiredClaims`) and checkNumericDates made it a finite number.
    return this.#remember(toVerified(claims, issuer.cfg.issuer, claims.exp as number, hash), {
      notBefore: numeric(claims.nbf),
      skew: issuer.skew,
    });
  }

  /** The issuer first: an untrusted `iss` costs no network call and no key lookup. */
  #issuerOf(payload: Readonly<Record<string, unknown>>): BearerIssuer {
    const issuer = typeof payload.iss === 'string' ? this.#issuers.get(payload.iss) : undefined;
    if (issuer === undefined) throw tokenError('issuer_mismatch');
    return issuer;
  }

  /** jose's `jwtVerify` against the issuer's key set: the signature, then `iss`, `aud`, `exp`, `nbf`. */
  async #verifySignature(
    issuer: BearerIssuer,
    token: string,
    hash: string,
    now: number,
  ): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, issuer.keys.getKey, {
        ...issuer.joseOptions,
        currentDate: new Date(now),
      });
      return payload;
    } catch (err) {
      const mapped = fromJoseError(err);
      if (mapped.code === 'unknown_kid') {
        this.#log.debug(
          { issuer: issuer.cfg.issuer, token: fingerprint(hash) },
          'bearer token with an unknown kid',
        );
      }
      throw mapped;
    }
  }

  async #introspect(token: string, hash: string, now: number): Promise<VerifiedToken> {
    const issuer = this.#opaqueIssuer;
    if (!issuer?.introspector) {
      throw tokenError('token_malformed', 'not a JWT, and no single issuer introspects opaque tokens');
    }
    const claims = await issuer.introspector.introspect(token, hash, now);
    const until = now + issuer.cfg.introspection!.cache_ttl;
    const expiresAt = numeric(claims.exp) ?? Math.ceil(until / 1000);
    return this.#remember(toVerified(claims, issuer.cfg.issuer, expiresAt, hash), {
      notBefore: numeric(claims.nbf),
      skew: issuer.skew,
      until,
    });
  }

  #remember(verified: VerifiedToken, window: CacheWindow): VerifiedToken {
    this.#cache.set(verified, window);
    return verified;
  }
}

function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function toVerified(
  claims: Readonly<Record<string, unknown>>,
  issuer: string,
  expiresAt: number,
  cacheKey: string,
): VerifiedToken {
  const clientId =
    typeof claims.client_id === 'string'
      ? claims.client_id
      : typeof claims.azp === 'string'
        ? claims.azp
        : undefined;
  // RFC 8705 §3.1 (JWT) and §3.2 (introspection) carry the binding the same way
  const x5t = certificateThumbprint(claims);
  return Object.freeze({
    claims: Object.freeze({ ...claims }),
    issuer,
    expiresAt,
    cacheKey,
    ...(clientId !== undefined ? { clientId } : {}),
    ...(x5t !== undefined ? { x5t } : {}),
  });
}
