/**
 * One issuer's signing keys, self-healing: fetched through our undici dispatcher, kept for the
 * `Cache-Control: max-age` the IdP sends (clamped to `[min_ttl, max_ttl]`), refreshed in the
 * background so no request waits, refetched on an unknown `kid` at most once per cooldown (so a
 * flood of forged kids cannot hammer the IdP), and never replaced by a failed or empty answer:
 * while the IdP is down the last good keys keep validating.
 *
 * The shape follows jose's `createRemoteJWKSet` (one shared in-flight fetch, cooldown on
 * refetch). The key is chosen by `selectKey` (`key-selection.ts`), the rule every token path
 * shares, and imported once per key and algorithm.
 *
 * @see https://github.com/panva/jose/blob/main/src/jwks/remote.ts
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 */
import { createPublicKey, type webcrypto } from 'node:crypto';
import { type CryptoKey, importJWK, type JWK, type JWSHeaderParameters } from 'jose';
import type { Dispatcher } from 'undici';
import type { Log } from '../observe/logger.ts';
import { fetchJson, isJsonObject, maxAgeMs } from './fetch-json.ts';
import { selectKey } from './key-selection.ts';
import { tokenError } from './token-errors.ts';

export type JwksRefreshResult = 'ok' | 'error' | 'cooldown';

export interface JwksCacheOptions {
  issuer: string;
  /** the `jwks_uri`: from config, or discovery (may reject) */
  jwksUri: () => Promise<string>;
  dispatcher: Dispatcher;
  log: Log;
  /** `BearerIssuerConfig['jwks']`, all in ms */
  minTtl: number;
  maxTtl: number;
  cooldown: number;
  timeout: number;
  onRefresh?(result: JwksRefreshResult): void;
}

/** What the admin live view shows of a key set: no key material, only its state. */
export interface JwksStatus {
  readonly loaded: boolean;
  /** usable keys in the set in use */
  readonly keys: number;
  /** epoch ms of the last fetch that installed a set */
  readonly last_refresh?: number;
  /** epoch ms of the last fetch attempt */
  readonly last_attempt?: number;
  /** why the last fetch failed (log-safe), while the failures last */
  readonly last_error?: string;
  /** failed fetches in a row */
  readonly failures: number;
}

export interface JwksCache {
  /** a key set has been loaded (it may be stale; it is never dropped) */
  readonly loaded: boolean;
  status(): JwksStatus;
  /**
   * A jose key resolver: the one key this header's `alg`/`kid` selects; embedded keys are never
   * read.
   *
   * @throws GatehouseError `jwks_unavailable` while no set was ever loaded; `unknown_kid` when no
   *   key fits even after a refetch, or several fit (`selectKey`).
   */
  getKey(header: JWSHeaderParameters): Promise<CryptoKey>;
  /** Fetch now, or join the fetch in flight; resolves `true` when a key set was installed. */
  refresh(): Promise<boolean>;
  close(): void;
}

const KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);
/** Private (or symmetric) members: a JWKS that publishes these is broken, and we skip the key. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/**
 * The verification keys of a JWKS document: public RSA/EC/OKP keys meant for signatures whose
 * material Node can import. Throws (log-safe message) for a non-JWKS or one with no usable key.
 */
export function usableKeys(body: unknown): JWK[] {
  if (!isJsonObject(body) || !Array.isArray(body.keys)) throw new Error('the response is not a JWK Set');
  const keys: JWK[] = [];
  for (const key of body.keys) {
    if (!isJsonObject(key) || typeof key.kty !== 'string' || !KEY_TYPES.has(key.kty)) continue;
    if (key.use !== undefined && key.use !== 'sig') continue;
    if (PRIVATE_MEMBERS.some((m) => m in key)) continue;
    try {
      createPublicKey({ key: key as webcrypto.JsonWebKey, format: 'jwk' });
    } catch {
      continue;
    }
    keys.push(key as JWK);
  }
  if (keys.length === 0) throw new Error('the JWK Set has no usable signing key');
  return keys;
}

export function createJwksCache(opts: JwksCacheOptions): JwksCache {
  const { issuer, log, minTtl, maxTtl, cooldown } = opts;
  let keys: JWK[] | undefined;
  /** imported keys by JWK and alg; a replaced set's entries go with its JWK objects */
  const imported = new WeakMap<JWK, Map<string, Promise<CryptoKey>>>();
  let inFlight: Promise<boolean> | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let lastRefresh: number | undefined;
  let lastError: string | undefined;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function schedule(delay: number): void {
    if (closed) return;
    clearTimeout(timer);
    // unref: a pending refresh must never keep the process alive on shutdown.
    timer = setTimeout(() => void refresh(), delay).unref();
  }

  async function load(): Promise<boolean> {
    try {
      const uri = await opts.jwksUri();
      const res = await fetchJson(uri, { dispatcher: opts.dispatcher, timeout: opts.timeout });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      keys = usableKeys(res.body);
      const ttl = Math.min(maxTtl, Math.max(minTtl, maxAgeMs(res.headers['cache-control']) ?? minTtl));
      failures = 0;
      lastRefresh = Date.now();
      lastError = undefined;
      // Refresh a little before the TTL ends, so a request never finds the set expired.
      schedule(Math.max(1000, ttl - ttl / 10));
      log.debug({ issuer, keys: keys.length, ttl_ms: ttl }, 'JWKS loaded');
      opts.onRefresh?.('ok');
      return true;
    } catch (err) {
      failures++;
      lastError = (err as Error).message ?? String(err);
      // Back off from the cooldown up to min_ttl; the last good keys stay in use meanwhile.
      const base = Math.max(1000, cooldown);
      schedule(Math.min(base * 2 ** Math.min(failures - 1, 16), Math.max(base, minTtl)));
      log.warn({ issuer, reason: lastError, kept_last_good: keys !== undefined }, 'JWKS refresh failed');
      opts.onRefresh?.('error');
      return false;
    }
  }

  function refresh(): Promise<boolean> {
    if (inFlight) return inFlight;
    lastAttempt = Date.now();
    inFlight = load().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  /** A fetch prompted by a request (no keys yet, or an unknown kid): joined, or rate-limited. */
  async function refetchForRequest(): Promise<boolean> {
    if (inFlight) return inFlight;
    if (Date.now() - lastAttempt < cooldown) {
      opts.onRefresh?.('cooldown');
      return false;
    }
    return refresh();
  }

  /** The CryptoKey of `jwk` for `alg`, imported once; a failed import is retried next time. */
  function importKey(jwk: JWK, alg: string): Promise<CryptoKey> {
    let byAlg = imported.get(jwk);
    if (byAlg === undefined) {
      byAlg = new Map();
      imported.set(jwk, byAlg);
    }
    let key = byAlg.get(alg);
    if (key === undefined) {
      key = (importJWK(jwk, alg) as Promise<CryptoKey>).catch((err: unknown) => {
        byAlg.delete(alg);
        throw err;
      });
      byAlg.set(alg, key);
    }
    return key;
  }

  return {
    get loaded() {
      return keys !== undefined;
    },
    status: () => ({
      loaded: keys !== undefined,
      keys: keys?.length ?? 0,
      ...(lastRefresh !== undefined ? { last_refresh: lastRefresh } : {}),
      ...(Number.isFinite(lastAttempt) ? { last_attempt: lastAttempt } : {}),
      ...(lastError !== undefined ? { last_error: lastError } : {}),
      failures,
    }),
    async getKey(header) {
      if (keys === undefined) {
        await refetchForRequest();
        if (keys === undefined) throw tokenError('jwks_unavailable', `no keys loaded for ${issuer}`);
      }
      let jwk = selectKey(keys, header);
      // A new kid may be a rotation at the IdP: look once (per cooldown), then decide.
      if (jwk === undefined && (await refetchForRequest())) jwk = selectKey(keys, header);
      if (jwk === undefined)
        throw tokenError('unknown_kid', 'no key of the JWK Set fits the token\'s "kid" and "alg"');
      return importKey(jwk, header.alg as string);
    },
    refresh,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
