/**
 * Bearer token verification, locally: the token's own (unverified) `iss` picks a configured
 * issuer before any key is fetched, cheap header checks (`crit`, `alg`, `typ`) run next, then
 * jose's `jwtVerify` checks the signature against the issuer's cached JWKS and the claims. Opaque
 * tokens go to the introspection endpoint of the one issuer that has one. Successes are cached
 * by token hash until `exp`, so a warm verify is a hash and a map lookup.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */
import type { JWTVerifyOptions } from 'jose';
import type { Dispatcher } from 'undici';
import { ASYMMETRIC_ALGS, type BearerIssuerConfig } from '../config/schema.ts';
import type { Log } from '../observe/logger.ts';
import { discoverIssuer, type IssuerMetadata } from './discovery.ts';
import { createIntrospector, type Introspector } from './introspection.ts';
import { createJwksCache, type JwksCache, type JwksRefreshResult } from './jwks-cache.ts';
import { fingerprint, fromJoseError, tokenError, tokenHash } from './token-errors.ts';
import { MAX_TOKEN_LENGTH, parseToken, typMatches } from './token-shape.ts';
import { VerifiedTokenCache } from './verified-token-cache.ts';
import { verifyWithJose } from './verify-jws.ts';

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
}

export interface BearerVerifier {
  /**
   * Verify a bearer token at `now` (epoch ms, default `Date.now()`).
   * Rejects with a `GatehouseError` carrying the precise reason code.
   */
  verify(token: string, now?: number): Promise<VerifiedToken>;
  /** true once every issuer has a key set loaded (readiness) */
  readonly ready: boolean;
  readonly stats: { hits: number; misses: number };
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

interface IssuerState {
  readonly cfg: BearerIssuerConfig;
  readonly algorithms: ReadonlySet<string>;
  readonly options: JWTVerifyOptions;
  readonly jwks: JwksCache;
  readonly introspector: Introspector | undefined;
  /** no JWKS to wait for: discovery found no jwks_uri, and introspection is configured */
  opaqueOnly: boolean;
}

function invalidArg(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

export function createBearerVerifier(opts: BearerVerifierOptions): BearerVerifier {
  const { dispatcher, log } = opts;
  const cache = new VerifiedTokenCache(opts.cacheSize);
  const byIssuer = new Map<string, IssuerState>();

  for (const cfg of opts.issuers) {
    if (byIssuer.has(cfg.issuer)) throw invalidArg(`bearer issuer "${cfg.issuer}" is listed twice`);
    // Defence in depth: the schema already refuses none/HS*, but never trust a caller's list.
    const algorithms = new Set(cfg.algorithms.filter((alg) => ASYMMETRIC_ALGS.has(alg)));
    if (algorithms.size === 0)
      throw invalidArg(`bearer issuer "${cfg.issuer}" allows no asymmetric algorithm`);

    let metadata: Promise<IssuerMetadata> | undefined;
    const discover = (): Promise<IssuerMetadata> => {
      metadata ??= discoverIssuer(cfg.issuer, { dispatcher, timeout: cfg.jwks.timeout }).catch((err) => {
        metadata = undefined; // retried on the next need (JWKS fetches are rate-limited anyway)
        throw err;
      });
      return metadata;
    };
    const state: IssuerState = {
      cfg,
      algorithms,
      opaqueOnly: false,
      options: {
        algorithms: [...algorithms],
        issuer: cfg.issuer,
        audience: [...cfg.audiences],
        clockTolerance: cfg.clock_skew / 1000,
        requiredClaims: ['exp', ...cfg.required_claims],
      },
      jwks: createJwksCache({
        issuer: cfg.issuer,
        jwksUri: cfg.jwks_uri
          ? () => Promise.resolve(cfg.jwks_uri!)
          : async () => {
              const meta = await discover();
              if (meta.jwks_uri) return meta.jwks_uri;
              if (cfg.introspection) state.opaqueOnly = true;
              throw new Error('the discovery document has no "jwks_uri"');
            },
        dispatcher,
        log,
        minTtl: cfg.jwks.min_ttl,
        maxTtl: cfg.jwks.max_ttl,
        cooldown: cfg.jwks.cooldown,
        timeout: cfg.jwks.timeout,
        onRefresh: (result) => opts.onJwksRefresh?.(cfg.issuer, result),
      }),
      introspector: cfg.introspection
        ? createIntrospector({
            issuer: cfg,
            endpoint: cfg.introspection.endpoint
              ? () => Promise.resolve(cfg.introspection!.endpoint!)
              : async () => {
                  const meta = await discover();
                  if (!meta.introspection_endpoint) {
                    throw new Error('the discovery document has no "introspection_endpoint"');
                  }
                  return meta.introspection_endpoint;
                },
            dispatcher,
            log,
            timeout: cfg.jwks.timeout,
          })
        : undefined,
    };
    byIssuer.set(cfg.issuer, state);
  }
  const introspecting = [...byIssuer.values()].filter((s) => s.introspector !== undefined);
  // An opaque token names no issuer: only one introspection endpoint can be asked unambiguously.
  const opaqueIssuer = introspecting.length === 1 ? introspecting[0] : undefined;

  async function verifyJwt(
    state: IssuerState,
    token: string,
    hash: string,
    now: number,
  ): Promise<VerifiedToken> {
    const { payload } = await verifyWithJose(token, state.jwks.getKey, {
      ...state.options,
      currentDate: new Date(now),
    }).catch((err: unknown) => {
      const mapped = fromJoseError(err);
      if (mapped.code === 'unknown_kid') {
        log.debug({ issuer: state.cfg.issuer, token: fingerprint(hash) }, 'bearer token with an unknown kid');
      }
      throw mapped;
    });
    // jose checks `iat` only with maxTokenAge; a token issued in the future is not valid yet.
    if (payload.iat !== undefined) {
      if (typeof payload.iat !== 'number') throw tokenError('token_malformed', 'claim "iat" is not a number');
      if (payload.iat > Math.floor(now / 1000) + state.cfg.clock_skew / 1000) {
        throw tokenError('token_not_yet_valid', 'claim "iat" is in the future');
      }
    }
    const verified = toVerified(payload, state.cfg.issuer, payload.exp as number, hash);
    cache.set(verified, { notBefore: numeric(payload.nbf), skew: state.cfg.clock_skew / 1000 });
    return verified;
  }

  async function verifyOpaque(token: string, hash: string, now: number): Promise<VerifiedToken> {
    if (!opaqueIssuer?.introspector) {
      throw tokenError('token_malformed', 'not a JWT, and no single issuer introspects opaque tokens');
    }
    const { cfg } = opaqueIssuer;
    const claims = await opaqueIssuer.introspector.introspect(token, hash, now);
    const until = now + cfg.introspection!.cache_ttl;
    const expiresAt = numeric(claims.exp) ?? Math.ceil(until / 1000);
    const verified = toVerified(claims, cfg.issuer, expiresAt, hash);
    cache.set(verified, { notBefore: numeric(claims.nbf), skew: cfg.clock_skew / 1000, until });
    return verified;
  }

  async function verifySlow(token: string, hash: string, now: number): Promise<VerifiedToken> {
    const parsed = parseToken(token);
    if (parsed.kind === 'opaque') return verifyOpaque(token, hash, now);
    const { header, payload } = parsed;
    // The issuer first: an untrusted `iss` costs no network call and no key lookup.
    const state = typeof payload.iss === 'string' ? byIssuer.get(payload.iss) : undefined;
    if (state === undefined) throw tokenError('issuer_mismatch');
    // We implement no JWS extension, so any `crit` header is one we must not ignore (RFC 7515 §4.1.11).
    if (header.crit !== undefined) throw tokenError('crit_unsupported');
    if (typeof header.alg !== 'string' || !state.algorithms.has(header.alg)) {
      // The message stays constant: it must not echo attacker-chosen header text.
      throw tokenError('alg_not_allowed');
    }
    if (state.cfg.typ !== undefined && !typMatches(header.typ, state.cfg.typ))
      throw tokenError('typ_mismatch');
    // RFC 7515 §4.1.4: a kid is a string; anything else would only cost a JWKS refetch (issue-10).
    if (header.kid !== undefined && typeof header.kid !== 'string')
      throw tokenError('token_malformed', 'header "kid" is not a string');
    // JSON.parse reads `1e400` as Infinity, which jose accepts as a number: a token that never
    // expires. NumericDates must be finite (issue-10).
    for (const claim of ['exp', 'nbf', 'iat'] as const) {
      const value = payload[claim];
      if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value)))
        throw tokenError('token_malformed', `claim "${claim}" is not a finite number`);
    }
    return verifyJwt(state, token, hash, now);
  }

  return {
    verify(token, now = Date.now()) {
      // Not async on purpose: a cache hit settles without a jose call or an extra microtask hop.
      if (typeof token !== 'string') return Promise.reject(tokenError('token_malformed'));
      if (token.length > MAX_TOKEN_LENGTH) return Promise.reject(tokenError('token_too_large'));
      const hash = tokenHash(token);
      try {
        const hit = cache.get(hash, now);
        if (hit !== undefined) return Promise.resolve(hit);
      } catch (err) {
        return Promise.reject(err);
      }
      return verifySlow(token, hash, now);
    },
    get ready() {
      for (const state of byIssuer.values()) if (!state.jwks.loaded && !state.opaqueOnly) return false;
      return true;
    },
    get stats() {
      return cache.stats;
    },
    async start() {
      await Promise.all([...byIssuer.values()].map((state) => state.jwks.refresh()));
    },
    close() {
      for (const state of byIssuer.values()) state.jwks.close();
      cache.clear();
    },
  };
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
  return Object.freeze({
    claims: Object.freeze({ ...claims }),
    issuer,
    expiresAt,
    cacheKey,
    ...(clientId !== undefined ? { clientId } : {}),
  });
}
