/**
 * One configured bearer issuer, ready to check its tokens: the algorithms it may use, the jose
 * options for its claims, its self-refreshing key set and, when configured, its introspection
 * endpoint. Endpoints the config leaves out come from the issuer's metadata, discovered once on
 * first need and again only after a failure.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
import type { JWTVerifyOptions } from 'jose';
import type { Dispatcher } from 'undici';
import { ASYMMETRIC_ALGS, type BearerIssuerConfig } from '../config/schema.ts';
import type { Log } from '../observe/logger.ts';
import { discoverIssuer, type IssuerMetadata } from './discovery.ts';
import { createIntrospector, type Introspector } from './introspection.ts';
import { createJwksCache, type JwksCache, type JwksRefreshResult } from './jwks-cache.ts';

export interface BearerIssuerDeps {
  dispatcher: Dispatcher;
  log: Log;
  onJwksRefresh?(issuer: string, result: JwksRefreshResult): void;
}

function invalidArg(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

/**
 * The configured issuers by their exact `issuer` string: a token's `iss` picks one.
 *
 * @throws TypeError `ERR_INVALID_ARG_VALUE` for an issuer listed twice, or one allowing no
 *   asymmetric algorithm
 */
export function issuersByName(
  configs: readonly BearerIssuerConfig[],
  deps: BearerIssuerDeps,
): ReadonlyMap<string, BearerIssuer> {
  const byName = new Map<string, BearerIssuer>();
  for (const cfg of configs) {
    if (byName.has(cfg.issuer)) throw invalidArg(`bearer issuer "${cfg.issuer}" is listed twice`);
    byName.set(cfg.issuer, new BearerIssuer(cfg, deps));
  }
  return byName;
}

export class BearerIssuer {
  readonly cfg: BearerIssuerConfig;
  readonly algorithms: ReadonlySet<string>;
  /** `jwtVerify` options for this issuer's tokens, without `currentDate` */
  readonly joseOptions: JWTVerifyOptions;
  /** `clock_skew` in seconds */
  readonly skew: number;
  readonly keys: JwksCache;
  readonly introspector: Introspector | undefined;
  readonly #dispatcher: Dispatcher;
  #metadata: Promise<IssuerMetadata> | undefined;
  /** no JWKS to wait for: discovery found no jwks_uri, and introspection is configured */
  #opaqueOnly = false;

  /** @throws TypeError `ERR_INVALID_ARG_VALUE` when `cfg` allows no asymmetric algorithm */
  constructor(cfg: BearerIssuerConfig, deps: BearerIssuerDeps) {
    // Defence in depth: the schema already refuses none/HS*, but never trust a caller's list.
    const algorithms = new Set(cfg.algorithms.filter((alg) => ASYMMETRIC_ALGS.has(alg)));
    if (algorithms.size === 0)
      throw invalidArg(`bearer issuer "${cfg.issuer}" allows no asymmetric algorithm`);
    this.cfg = cfg;
    this.algorithms = algorithms;
    this.skew = cfg.clock_skew / 1000;
    this.joseOptions = {
      algorithms: [...algorithms],
      issuer: cfg.issuer,
      audience: [...cfg.audiences],
      clockTolerance: this.skew,
      requiredClaims: ['exp', ...cfg.required_claims],
    };
    this.#dispatcher = deps.dispatcher;
    this.keys = createJwksCache({
      issuer: cfg.issuer,
      jwksUri: () => this.#jwksUri(),
      dispatcher: deps.dispatcher,
      log: deps.log,
      minTtl: cfg.jwks.min_ttl,
      maxTtl: cfg.jwks.max_ttl,
      cooldown: cfg.jwks.cooldown,
      timeout: cfg.jwks.timeout,
      onRefresh: (result) => deps.onJwksRefresh?.(cfg.issuer, result),
    });
    this.introspector = cfg.introspection
      ? createIntrospector({
          issuer: cfg,
          endpoint: () => this.#introspectionEndpoint(),
          dispatcher: deps.dispatcher,
          log: deps.log,
          timeout: cfg.jwks.timeout,
        })
      : undefined;
  }

  /** Its keys are loaded, or it has none to load (it only introspects). */
  get ready(): boolean {
    return this.keys.loaded || this.#opaqueOnly;
  }

  #discover(): Promise<IssuerMetadata> {
    this.#metadata ??= discoverIssuer(this.cfg.issuer, {
      dispatcher: this.#dispatcher,
      timeout: this.cfg.jwks.timeout,
    }).catch((err: unknown) => {
      this.#metadata = undefined; // retried on the next need (JWKS fetches are rate-limited anyway)
      throw err;
    });
    return this.#metadata;
  }

  async #jwksUri(): Promise<string> {
    if (this.cfg.jwks_uri) return this.cfg.jwks_uri;
    const meta = await this.#discover();
    if (meta.jwks_uri) return meta.jwks_uri;
    if (this.cfg.introspection) this.#opaqueOnly = true;
    throw new Error('the discovery document has no "jwks_uri"');
  }

  async #introspectionEndpoint(): Promise<string> {
    if (this.cfg.introspection?.endpoint) return this.cfg.introspection.endpoint;
    const meta = await this.#discover();
    if (!meta.introspection_endpoint)
      throw new Error('the discovery document has no "introspection_endpoint"');
    return meta.introspection_endpoint;
  }
}
