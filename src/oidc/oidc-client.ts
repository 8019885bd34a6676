/**
 * The OpenID Provider as Gatehouse sees it: discovered metadata, our client registration,
 * client authentication, and the HTTP options every oauth4webapi call uses (undici over the
 * shared outbound dispatcher, a hard per-call timeout).
 *
 * Discovery runs in the background and retries forever with capped, jittered exponential
 * backoff, so Gatehouse starts (and serves public routes and bearer tokens) while the IdP is
 * down; login answers `idp_unavailable` until `ready`. The issuer in the metadata must equal
 * the configured one (oauth4webapi checks it): a mix-up there is an attack, not a typo to
 * paper over.
 *
 * The IdP's signing keys (`keys`) sit in the same JWKS cache bearer issuers use, so an ID token
 * meets the same key rule as a bearer token: a header that selects no key, or (without `kid`)
 * more than one, is `unknown_kid`.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation
 */
import * as oauth from 'oauth4webapi';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import type { OidcConfig } from '../config/schema.ts';
import type { Log } from '../observe/logger.ts';
import {
  createJwksCache,
  type JwksCache,
  type JwksRefreshResult,
  type JwksStatus,
} from '../tokens/jwks-cache.ts';
import { createClientAuth } from './client-auth.ts';
import { describeIdpError } from './idp-errors.ts';

/** The transport options passed to every oauth4webapi request function. */
export interface IdpHttpOptions {
  [oauth.customFetch]: (url: string, options: oauth.CustomFetchOptions<string, unknown>) => Promise<Response>;
  [oauth.allowInsecureRequests]: boolean;
  signal: () => AbortSignal;
}

/** Discovery and keys of one provider, for the admin live view (no secret: no client credentials). */
export interface OidcClientStatus {
  readonly issuer: string;
  readonly discovery: 'pending' | 'ok' | 'retrying';
  /** failed discovery attempts so far */
  readonly attempts: number;
  /** epoch ms discovery completed */
  readonly discovered_at?: number;
  /** why the last attempt failed (log-safe, as logged), while retrying */
  readonly last_error?: string;
  readonly keys: JwksStatus;
}

export interface OidcClient {
  readonly ready: boolean;
  status(): OidcClientStatus;
  /** discovered metadata (id_token algorithms narrowed to `oidc.id_token_algorithms`); undefined until ready */
  readonly as: oauth.AuthorizationServer | undefined;
  readonly client: oauth.Client;
  readonly clientAuth: oauth.ClientAuth;
  readonly http: IdpHttpOptions;
  /** the IdP's signing keys (its discovered `jwks_uri`), loaded on first use, then kept fresh */
  readonly keys: JwksCache;
  /** Start discovery in the background (idempotent). */
  start(): void;
  /** Resolves once discovery has succeeded. */
  whenReady(): Promise<oauth.AuthorizationServer>;
  /** Stop retrying. */
  close(): void;
}

export interface OidcClientOptions {
  oidc: OidcConfig;
  dispatcher: Dispatcher;
  log: Log;
  /** first retry delay, ms (default 500); doubles per attempt */
  retryBaseMs?: number;
  /** longest retry delay, ms (default 30 s) */
  retryMaxMs?: number;
  onJwksRefresh?(result: JwksRefreshResult): void;
}

/** Key-set timing for the IdP's keys (ms): the bearer `jwks` defaults. */
const KEYS_MIN_TTL = 60_000;
const KEYS_MAX_TTL = 3_600_000;
const KEYS_COOLDOWN = 30_000;

/** The delay before retry `attempt` (1-based): exponential, capped, with jitter in [½, 1]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** @throws TypeError `ERR_INVALID_ARG_VALUE` for a missing client secret or a bad private key */
export function createOidcClient(opts: OidcClientOptions): OidcClient {
  const { oidc, dispatcher } = opts;
  const log = opts.log.child({ component: 'oidc', issuer: oidc.issuer });
  const issuerUrl = new URL(oidc.issuer);
  const baseMs = opts.retryBaseMs ?? 500;
  const maxMs = opts.retryMaxMs ?? 30_000;
  const client: oauth.Client = {
    client_id: oidc.client_id,
    [oauth.clockTolerance]: oidc.clock_skew / 1000,
  };
  const clientAuth = createClientAuth(oidc);
  const http: IdpHttpOptions = {
    [oauth.customFetch]: (url, init) =>
      undiciFetch(url, { ...init, dispatcher } as never) as unknown as Promise<Response>,
    // An http:// issuer is the operator's explicit choice (loopback IdPs, tests); https is the norm.
    [oauth.allowInsecureRequests]: issuerUrl.protocol === 'http:',
    signal: () => AbortSignal.timeout(oidc.timeout),
  };

  let as: oauth.AuthorizationServer | undefined;
  const keys = createJwksCache({
    issuer: oidc.issuer,
    jwksUri: async () => {
      // Rejects rather than waits: a login only asks for keys once discovery is done.
      if (as?.jwks_uri === undefined) throw new Error('discovery has not completed');
      // oauth4webapi's own rule for every IdP endpoint: http only for an http issuer.
      if (new URL(as.jwks_uri).protocol !== 'https:' && !http[oauth.allowInsecureRequests])
        throw new Error('"jwks_uri" is not https');
      return as.jwks_uri;
    },
    dispatcher,
    log,
    minTtl: KEYS_MIN_TTL,
    maxTtl: KEYS_MAX_TTL,
    cooldown: KEYS_COOLDOWN,
    timeout: oidc.timeout,
    ...(opts.onJwksRefresh ? { onRefresh: opts.onJwksRefresh } : {}),
  });
  let started = false;
  let closed = false;
  let attempt = 0;
  let discoveredAt: number | undefined;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let resolveReady!: (as: oauth.AuthorizationServer) => void;
  const readyPromise = new Promise<oauth.AuthorizationServer>((resolve) => {
    resolveReady = resolve;
  });

  async function discover(): Promise<void> {
    timer = undefined;
    try {
      const response = await oauth.discoveryRequest(issuerUrl, { ...http, algorithm: 'oidc' });
      const metadata = await oauth.processDiscoveryResponse(issuerUrl, response);
      const narrowed = narrow(metadata, oidc.id_token_algorithms);
      if (closed) return;
      as = narrowed;
      discoveredAt = Date.now();
      lastError = undefined;
      log.info({ attempts: attempt + 1 }, 'oidc discovery complete');
      resolveReady(narrowed);
    } catch (err) {
      if (closed) return;
      attempt++;
      const delay = backoffDelay(attempt, baseMs, maxMs);
      const reason = describeIdpError(err);
      lastError = Object.entries(reason)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ');
      log.warn({ attempt, retry_in_ms: delay, reason }, 'oidc discovery failed');
      timer = setTimeout(() => void discover(), delay);
      timer.unref();
    }
  }

  return {
    get ready() {
      return as !== undefined;
    },
    get as() {
      return as;
    },
    status: () => ({
      issuer: oidc.issuer,
      discovery: as !== undefined ? 'ok' : attempt > 0 ? 'retrying' : 'pending',
      attempts: attempt,
      ...(discoveredAt !== undefined ? { discovered_at: discoveredAt } : {}),
      ...(lastError !== undefined ? { last_error: lastError } : {}),
      keys: keys.status(),
    }),
    client,
    clientAuth,
    http,
    keys,
    start() {
      if (started || closed) return;
      started = true;
      void discover();
    },
    whenReady: () => readyPromise,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      keys.close();
    },
  };
}

/**
 * Metadata with the endpoints login needs checked, and `id_token_signing_alg_values_supported`
 * narrowed to the configured algorithms – oauth4webapi accepts exactly that list for ID tokens.
 * A fresh object, so oauth4webapi's per-metadata JWKS cache belongs to it alone.
 */
function narrow(
  metadata: oauth.AuthorizationServer,
  algorithms: readonly string[],
): oauth.AuthorizationServer {
  for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
    if (typeof metadata[key] !== 'string') {
      throw new oauth.OperationProcessingError(`discovery metadata lacks "${key}"`, {
        code: oauth.MISSING_SERVER_METADATA,
      });
    }
  }
  const offered = metadata.id_token_signing_alg_values_supported;
  const allowed = Array.isArray(offered) ? algorithms.filter((a) => offered.includes(a)) : [...algorithms];
  if (allowed.length === 0) {
    throw new oauth.OperationProcessingError(
      `the IdP signs ID tokens with none of oidc.id_token_algorithms (${algorithms.join(', ')})`,
      { code: oauth.INVALID_SERVER_METADATA },
    );
  }
  return { ...metadata, id_token_signing_alg_values_supported: allowed };
}
