/**
 * The one cache of our own in front of jose (STYLE item 10): tokens that verified, by SHA-256 of
 * the token, bounded by count and never outliving the token's `exp`. A hit costs a hash and a map
 * lookup – no crypto – yet `exp`/`nbf` are checked again against `now`, because `now` moves and
 * a caller may pass its own. Only successes are stored: a failure is never cached as valid.
 */
import { LruCache } from '../util/lru.ts';
import { tokenError } from './token-errors.ts';

export interface VerifiedToken {
  /** the JWT payload, or the introspection response */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly issuer: string;
  /** epoch s */
  readonly expiresAt: number;
  /** `client_id` ?? `azp` */
  readonly clientId?: string;
  /** SHA-256 of the token, base64url */
  readonly cacheKey: string;
  /** `cnf["x5t#S256"]`: the token is bound to this client certificate (RFC 8705) */
  readonly x5t?: string;
}

/** When a cached token counts as valid, beyond its `exp`. */
export interface CacheWindow {
  /** `nbf`, epoch s */
  readonly notBefore: number | undefined;
  /** the issuer's clock skew, s */
  readonly skew: number;
  /** epoch ms: forget it by then (an introspection answer's `cache_ttl`), capped at `exp` */
  readonly until?: number;
}

interface Entry {
  readonly token: VerifiedToken;
  /** epoch s, or undefined */
  readonly notBefore: number | undefined;
  /** the issuer's clock skew, s */
  readonly skew: number;
}

export class VerifiedTokenCache {
  readonly #lru: LruCache<Entry>;

  /** `max` = 0 disables caching (every verify does the full work). */
  constructor(max: number) {
    this.#lru = new LruCache<Entry>(max);
  }

  get stats(): { hits: number; misses: number } {
    return { hits: this.#lru.hits, misses: this.#lru.misses };
  }

  get size(): number {
    return this.#lru.size;
  }

  /**
   * The cached token for `hash` at `now` (epoch ms), `undefined` on a miss.
   *
   * @throws GatehouseError `token_expired` / `token_not_yet_valid` when the cached token's time
   *   window no longer (or not yet) holds at `now`.
   */
  get(hash: string, now: number): VerifiedToken | undefined {
    const entry = this.#lru.get(hash, now);
    if (entry === undefined) return undefined;
    const nowS = Math.floor(now / 1000);
    if (entry.token.expiresAt <= nowS - entry.skew) {
      this.#lru.delete(hash);
      throw tokenError('token_expired');
    }
    if (entry.notBefore !== undefined && entry.notBefore > nowS + entry.skew) {
      throw tokenError('token_not_yet_valid');
    }
    return entry.token;
  }

  /** Remember a verified token until `until` (epoch ms), at most its `exp`. */
  set(token: VerifiedToken, opts: CacheWindow): void {
    const expMs = token.expiresAt * 1000;
    const until = opts.until === undefined ? expMs : Math.min(opts.until, expMs);
    this.#lru.set(token.cacheKey, { token, notBefore: opts.notBefore, skew: opts.skew }, until);
  }

  clear(): void {
    this.#lru.clear();
  }
}
