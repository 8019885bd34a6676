/**
 * Everything one config needs at request time, compiled once: route table, policies, role
 * mapper, verifiers, session codec, login endpoints, signer, header sets. A reload builds a
 * whole new Runtime and swaps one reference; a request keeps the Runtime it started with.
 * Nothing per-request is left for the hot path that could be done here.
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { LoadedConfig } from '../config/load.ts';
import type { ConfigPath } from '../config/positions.ts';
import type { Config } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { type AssertionSigner, createAssertionSigner } from '../identity/assertion.ts';
import { createOwnCookieMatcher } from '../identity/cookies-upstream.ts';
import { loadSigningKeys, type SigningKeys } from '../identity/signing-keys.ts';
import { createInboundStripper } from '../identity/strip-inbound.ts';
import type { AuditLog } from '../observe/audit.ts';
import type { Log } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import { createBackchannelLogout } from '../oidc/backchannel-logout.ts';
import { createLoginEndpoints, type EndpointHandler, type LoginEndpoints } from '../oidc/login-endpoints.ts';
import { createOidcClient, type OidcClient } from '../oidc/oidc-client.ts';
import { createRefresher, type Refresher } from '../oidc/refresh.ts';
import type { LoginTarget } from '../pipeline/respond-denied.ts';
import { type CompiledPolicy, compilePolicy } from '../policy/compile-policy.ts';
import { createRoleMapper, type RoleMapper } from '../policy/roles.ts';
import { type CompiledRoute, compileRoutes, type RouteTable } from '../policy/route-table.ts';
import { createTrustedProxies } from '../proxy/trusted-proxies.ts';
import type { UpstreamProxy } from '../proxy/upstream-proxy.ts';
import { createSessionCodec, type SessionCodec } from '../session/cookie-codec.ts';
import type { RevocationStore } from '../store/store.ts';
import { type BearerVerifier, createBearerVerifier } from '../tokens/bearer-verifier.ts';
import { createJwksCache, type JwksCache } from '../tokens/jwks-cache.ts';

/** Long-lived parts shared by every Runtime of one process. */
export interface Shared {
  readonly log: Log;
  readonly metrics: Metrics;
  readonly dispatcher: Dispatcher;
  readonly proxy: UpstreamProxy;
  readonly audit: AuditLog;
  readonly revocations: RevocationStore;
}

export interface Runtime extends Shared {
  readonly loaded: LoadedConfig;
  readonly config: Config;
  readonly prefix: string;
  readonly publicOrigin?: URL;
  readonly routes: RouteTable;
  readonly policies: ReadonlyMap<string, CompiledPolicy>;
  readonly mapper: RoleMapper;
  readonly isTrustedProxy: (ip: string | undefined) => boolean;
  readonly stripInbound: (headers: import('node:http').IncomingHttpHeaders) => void;
  readonly isOwnCookie: (name: string) => boolean;
  readonly bearer?: BearerVerifier;
  readonly sessions?: SessionCodec;
  readonly oidc?: OidcClient;
  readonly login?: LoginEndpoints;
  readonly refresher?: Refresher;
  /** `{prefix}/backchannel_logout` (OIDC Back-Channel Logout), when login is configured */
  readonly backchannelLogout?: EndpointHandler;
  readonly signingKeys: SigningKeys;
  readonly assertions: AssertionSigner;
  loginTarget(route: CompiledRoute): LoginTarget;
  /** config compiled, discovery done and every bearer issuer has keys */
  ready(): boolean;
  close(): void;
}

export async function buildRuntime(
  loaded: LoadedConfig,
  shared: Shared,
  previous?: { signingKeys: SigningKeys; config: Config },
): Promise<Runtime> {
  const config = loaded.config;
  const { log, dispatcher } = shared;
  const prefix = config.server.endpoints_prefix;
  const publicOrigin = config.server.public_url ? new URL(config.server.public_url) : undefined;
  const mapper = createRoleMapper(config.roles);
  const routes = compileRoutes(config.routes);
  const policies = new Map(
    routes.routes.map((r) => [r.name, compilePolicy(r.config.policy, { enforce: r.config.enforce, mapper })]),
  );

  // A generated (unconfigured) assertion key survives reloads, so assertions already handed
  // out keep verifying; a configured key is re-read every time (rotation through the file).
  const keepGenerated =
    previous?.signingKeys.generated &&
    !config.identity.assertion.key &&
    previous.config.identity.assertion.algorithm === config.identity.assertion.algorithm;
  const signingKeys = keepGenerated
    ? previous!.signingKeys
    : await configured(loaded, ['identity', 'assertion', 'key'], () =>
        loadSigningKeys(config.identity.assertion, log),
      );
  const issuer = config.server.public_url ?? 'gatehouse';
  const assertions = createAssertionSigner({
    keys: signingKeys,
    issuer,
    ttlMs: config.identity.assertion.ttl,
    bindRequest: config.identity.assertion.bind_request,
    cacheSize: config.cache.assertions,
    header: config.identity.assertion.header,
  });

  const bearer =
    config.bearer.length > 0
      ? createBearerVerifier({
          issuers: config.bearer,
          cacheSize: config.cache.tokens,
          dispatcher,
          log,
          onJwksRefresh: (iss, result) => shared.metrics.jwksRefresh.inc({ issuer: iss, result }),
        })
      : undefined;

  let sessions: SessionCodec | undefined;
  let oidc: OidcClient | undefined;
  let login: LoginEndpoints | undefined;
  let refresher: Refresher | undefined;
  let backchannelLogout: EndpointHandler | undefined;
  let logoutJwks: JwksCache | undefined;
  const sessionConfig = config.session;
  if (sessionConfig) {
    sessions = await configured(loaded, ['session'], () =>
      createSessionCodec({
        session: sessionConfig,
        secure: publicOrigin?.protocol === 'https:',
        cacheSize: config.cache.sessions,
        log,
      }),
    );
  }
  if (config.oidc && sessions) {
    oidc = await configured(loaded, ['oidc'], () =>
      createOidcClient({ oidc: config.oidc!, dispatcher, log }),
    );
    const maxLifetimeS = Math.ceil(config.session!.max_lifetime / 1000);
    login = createLoginEndpoints({
      config,
      client: oidc,
      codec: sessions,
      dispatcher,
      log,
      // A signed-out session stays refused until it would have expired anyway, so a copied
      // cookie cannot be replayed after logout.
      onSignOut: (s) => shared.revocations.revoke(s.id, s.createdAt + maxLifetimeS),
      claimState: (state, ttlMs) =>
        shared.revocations.claimOnce(
          `state:${createHash('sha256').update(state).digest('base64url')}`,
          ttlMs,
        ),
      storeFailOpen: config.store_fail_open,
    });
    refresher = createRefresher({
      config,
      client: oidc,
      dispatcher,
      log,
      ...(shared.revocations.refresh ? { coordinator: shared.revocations.refresh } : {}),
    });
    // The IdP's keys for logout tokens: fetched on the first logout token, then kept fresh.
    const client = oidc;
    logoutJwks = createJwksCache({
      issuer: config.oidc.issuer,
      jwksUri: async () => (await client.whenReady()).jwks_uri!,
      dispatcher,
      log,
      minTtl: 60_000,
      maxTtl: 3_600_000,
      cooldown: 30_000,
      timeout: config.oidc.timeout,
      onRefresh: (result) => shared.metrics.jwksRefresh.inc({ issuer: config.oidc!.issuer, result }),
    });
    backchannelLogout = createBackchannelLogout({
      oidc: config.oidc,
      client: oidc,
      jwks: logoutJwks,
      store: shared.revocations,
      log,
      maxLifetimeS,
      storeFailOpen: config.store_fail_open,
    });
  }

  const stripper = createInboundStripper({ assertionHeader: config.identity.assertion.header });
  const isOwnCookie = createOwnCookieMatcher(
    sessions?.cookieName ?? config.session?.cookie_name ?? 'gatehouse',
  );
  const startPath = `${prefix}/start`;
  const startUrl = publicOrigin ? new URL(startPath, publicOrigin).href : startPath;

  shared.metrics.watchCache('tokens', () => bearer?.stats);
  shared.metrics.watchCache('sessions', () => sessions?.stats);
  shared.metrics.watchCache('assertions', () => assertions.stats);

  return {
    ...shared,
    loaded,
    config,
    prefix,
    publicOrigin,
    routes,
    policies,
    mapper,
    isTrustedProxy: createTrustedProxies(config.server.trusted_proxies),
    stripInbound: stripper,
    isOwnCookie,
    bearer,
    sessions,
    oidc,
    login,
    refresher,
    backchannelLogout,
    signingKeys,
    assertions,
    loginTarget: (route) => ({
      startUrl,
      canLogin: login !== undefined && route.config.auth.includes('session'),
    }),
    ready: () => (oidc ? oidc.ready : true) && (bearer ? bearer.ready : true),
    close() {
      oidc?.close();
      bearer?.close();
      logoutJwks?.close();
    },
  };
}

/** Start background work (discovery, JWKS) once the runtime is the live one. */
export function startRuntime(rt: Runtime): void {
  rt.oidc?.start();
  void rt.bearer
    ?.start()
    .catch((err: unknown) => rt.log.warn({ err }, 'bearer key loading failed; retrying'));
}

/**
 * Run a factory that validates its options (a key that does not parse, an algorithm that does
 * not fit the key): its TypeError becomes a positioned config problem, so startup, reload and
 * `check` all report it as FILE:LINE:COL instead of a stack trace.
 */
async function configured<T>(
  loaded: LoadedConfig,
  path: ConfigPath,
  build: () => T | Promise<T>,
): Promise<T> {
  try {
    return await build();
  } catch (err) {
    if (err instanceof TypeError && (err as { code?: unknown }).code === 'ERR_INVALID_ARG_VALUE') {
      throw new ConfigError([loaded.locate(path, err.message)]);
    }
    throw err;
  }
}
