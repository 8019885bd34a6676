/**
 * The signed identity assertion (`X-Gatehouse-Assertion`): a JWT the upstream verifies against
 * `{prefix}/jwks.json`, so it need not trust the network between it and Gatehouse.
 *
 * Header `typ` is `gatehouse-assertion+jwt` (explicit typing, RFC 8725 §3.11): an upstream that
 * checks it can never be fooled by an ID token or access token signed by some other party it
 * also trusts, and a Gatehouse assertion can never be replayed as one of those.
 *
 * Signing costs tens of microseconds, too much for every request, so an assertion is reused for
 * the same (identity, audience) until shortly before it expires. The cache key is a digest of
 * every input that shapes the token (`./assertion-cache-key.ts`), so two identities can never
 * share one. With `bindRequest` the token carries the request's method and URL (`htm`/`htu`, as
 * DPoP defines them) and a `jti`, and is signed per request (`./assertion-token.ts` signs).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.11
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2 htm, htu
 */
import type { JWK } from 'jose';
import { LruCache } from '../util/lru.ts';
import { AssertionCacheKeys } from './assertion-cache-key.ts';
import { AssertionMint, type BoundRequest } from './assertion-token.ts';
import type { Identity } from './identity.ts';
import type { SigningKeys } from './signing-keys.ts';

export { ASSERTION_TYP, refreshMargin } from './assertion-token.ts';

export const MAX_ASSERTION_TTL_MS = 300_000;

export interface AssertionSigner {
  sign(identity: Identity, audience: string, request?: { method: string; url: string }): Promise<string>;
  jwks(): { keys: JWK[] };
  /** lower-case header name */
  readonly header: string;
  /** hits: served from cache; misses: signed; coalesced: joined a signing already in flight */
  readonly stats: { hits: number; misses: number; coalesced: number };
}

export interface AssertionSignerOptions {
  keys: SigningKeys;
  /** `server.public_url` */
  issuer: string;
  ttlMs: number;
  bindRequest: boolean;
  cacheSize: number;
  header?: string;
  /** epoch ms */
  now?: () => number;
}

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

export function createAssertionSigner(opts: AssertionSignerOptions): AssertionSigner {
  const { issuer, ttlMs } = opts;
  if (typeof issuer !== 'string' || issuer === '') throw invalid('"issuer" must be a non-empty string');
  if (!Number.isFinite(ttlMs) || ttlMs < 1000 || ttlMs > MAX_ASSERTION_TTL_MS) {
    throw invalid(`"ttlMs" must be between 1000 and ${MAX_ASSERTION_TTL_MS}, got ${ttlMs}`);
  }
  const header = (opts.header ?? 'X-Gatehouse-Assertion').toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(header)) throw invalid(`"header" is not a valid header name`);
  return new CachingAssertionSigner(opts, header);
}

/** Reuses each (identity, audience)'s assertion, one signing at a time per cache key. */
class CachingAssertionSigner implements AssertionSigner {
  readonly header: string;
  readonly stats = { hits: 0, misses: 0, coalesced: 0 };
  readonly #keys: SigningKeys;
  readonly #bindRequest: boolean;
  readonly #now: () => number;
  readonly #mint: AssertionMint;
  readonly #cacheKeys: AssertionCacheKeys;
  readonly #cache: LruCache<string>;
  readonly #inflight = new Map<string, Promise<string>>();

  /** `opts` checked by {@link createAssertionSigner}; `header` lower-cased. */
  constructor(opts: AssertionSignerOptions, header: string) {
    this.header = header;
    this.#keys = opts.keys;
    this.#bindRequest = opts.bindRequest;
    this.#now = opts.now ?? Date.now;
    this.#mint = new AssertionMint(opts.keys, opts.issuer, opts.ttlMs);
    this.#cacheKeys = new AssertionCacheKeys(opts.issuer, this.#mint.kid);
    this.#cache = new LruCache<string>(opts.cacheSize);
  }

  /** Runs on every proxied request: the cache hit is a key lookup and a map lookup, nothing more. */
  async sign(identity: Identity, audience: string, request?: BoundRequest): Promise<string> {
    if (typeof audience !== 'string' || audience === '')
      throw invalid('"audience" must be a non-empty string');
    const nowMs = this.#now();
    if (this.#bindRequest) return this.#signBound(identity, audience, nowMs, request);
    const cacheKey = this.#cacheKeys.keyOf(identity, audience);
    const cached = this.#cache.get(cacheKey, nowMs);
    if (cached !== undefined) {
      this.stats.hits++;
      return cached;
    }
    return this.#joinOrSign(identity, audience, cacheKey, nowMs);
  }

  jwks(): { keys: JWK[] } {
    return this.#keys.jwks();
  }

  async #signBound(
    identity: Identity,
    audience: string,
    nowMs: number,
    request: BoundRequest | undefined,
  ): Promise<string> {
    if (request === undefined) throw invalid('"request" is required when the assertion binds the request');
    this.stats.misses++;
    return (await this.#mint.sign(identity, audience, nowMs, request)).token;
  }

  /** A cache miss: join the signing of this key already in flight, or start it and cache its token. */
  #joinOrSign(identity: Identity, audience: string, cacheKey: string, nowMs: number): Promise<string> {
    const pending = this.#inflight.get(cacheKey);
    if (pending !== undefined) {
      this.stats.coalesced++;
      return pending;
    }
    this.stats.misses++;
    const signing = this.#mint
      .sign(identity, audience, nowMs)
      .then(({ token, reuseUntil }) => {
        this.#cache.set(cacheKey, token, reuseUntil);
        return token;
      })
      .finally(() => this.#inflight.delete(cacheKey));
    this.#inflight.set(cacheKey, signing);
    return signing;
  }
}
