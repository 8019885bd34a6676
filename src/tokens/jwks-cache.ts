/**
 * One issuer's signing keys, self-healing: fetched through our undici dispatcher, kept for the
 * `Cache-Control: max-age` the IdP sends (clamped to `[min_ttl, max_ttl]`), refreshed in the
 * background so no request waits, refetched on an unknown `kid` at most once per cooldown (so a
 * flood of forged kids cannot hammer the IdP), and never replaced by a failed or empty answer:
 * while the IdP is down the last good keys keep validating.
 *
 * The shape follows jose's `createRemoteJWKSet` (one shared in-flight fetch, cooldown on
 * refetch), with key selection by jose's `createLocalJWKSet` over the fetched set.
 *
 * @see https://github.com/panva/jose/blob/main/src/jwks/remote.ts
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 */
import { createPublicKey, type webcrypto } from 'node:crypto';
import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JWK,
  type JWSHeaderParameters,
  type LocalJWKSet,
} from 'jose';
import type { Dispatcher } from 'undici';
import type { Log } from '../observe/logger.ts';
import { fetchJson, isJsonObject, maxAgeMs } from './fetch-json.ts';
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

export interface JwksCache {
  /** a key set has been loaded (it may be stale; it is never dropped) */
  readonly loaded: boolean;
  /** JWKS fetch attempts so far */
  readonly fetches: number;
  /** A jose key resolver: the key for this header's `alg`/`kid`; embedded keys are never read. */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey>;
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
  let local: LocalJWKSet | undefined;
  let inFlight: Promise<boolean> | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let failures = 0;
  let fetches = 0;
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
      const keys = usableKeys(res.body);
      local = createLocalJWKSet({ keys });
      const ttl = Math.min(maxTtl, Math.max(minTtl, maxAgeMs(res.headers['cache-control']) ?? minTtl));
      failures = 0;
      // Refresh a little before the TTL ends, so a request never finds the set expired.
      schedule(Math.max(1000, ttl - ttl / 10));
      log.debug({ issuer, keys: keys.length, ttl_ms: ttl }, 'JWKS loaded');
      opts.onRefresh?.('ok');
      return true;
    } catch (err) {
      failures++;
      // Back off from the cooldown up to min_ttl; the last good keys stay in use meanwhile.
      const base = Math.max(1000, cooldown);
      schedule(Math.min(base * 2 ** Math.min(failures - 1, 16), Math.max(base, minTtl)));
      log.warn(
        { issuer, reason: (err as Error).message ?? String(err), kept_last_good: local !== undefined },
        'JWKS refresh failed',
      );
      opts.onRefresh?.('error');
      return false;
    }
  }

  function refresh(): Promise<boolean> {
    if (inFlight) return inFlight;
    lastAttempt = Date.now();
    fetches++;
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

  return {
    get loaded() {
      return local !== undefined;
    },
    get fetches() {
      return fetches;
    },
    async getKey(header, token) {
      if (local === undefined) {
        await refetchForRequest();
        if (local === undefined) throw tokenError('jwks_unavailable', `no keys loaded for ${issuer}`);
      }
      try {
        return await local(header, token);
      } catch (err) {
        if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
        // A new kid may be a rotation at the IdP: look once (per cooldown), then decide.
        if (!(await refetchForRequest())) throw err;
        return local(header, token);
      }
    },
    refresh,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
