/**
 * Everything one config needs at request time, compiled once: route table, policies, IdP
 * directory (provider names and role mappings), verifiers, session codec, login endpoints,
 * signer, header sets. A reload builds a whole new Runtime and swaps one reference; a request
 * keeps the Runtime it started with.
 * Nothing per-request is left for the hot path that could be done here.
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { LoadedConfig } from '../config/load.ts';
import type { ConfigPath } from '../config/positions.ts';
import { oidcProviders, providerPath } from '../config/providers.ts';
import type { Config } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { createTrustedProxies } from '../http/trusted-proxies.ts';
import { type AssertionSigner, createAssertionSigner } from '../identity/assertion.ts';
import { createOwnCookieMatcher } from '../identity/cookies-upstream.ts';
import { loadSigningKeys, type SigningKeys } from '../identity/signing-keys.ts';
import { createInboundStripper } from '../identity/strip-inbound.ts';
import type { AuditLog } from '../observe/audit.ts';
import type { Log } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import { createBackchannelLogout, type LogoutProvider } from '../oidc/backchannel-logout.ts';
import { createLoginEndpoints, type EndpointHandler, type LoginEndpoints } from '../oidc/login-endpoints.ts';
import { createOidcClient, type OidcClient } from '../oidc/oidc-client.ts';
import { createRefresher, type Refresher } from '../oidc/refresh.ts';
import type { LoginTarget } from '../pipeline/respond-denied.ts';
import { type CompiledPolicy, compilePolicy } from '../policy/compile-policy.ts';
import { createIdpDirectory, type IdpDirectory } from '../policy/idp-directory.ts';
import { type CompiledRoute, compileRoutes, type RouteTable } from '../policy/route-table.ts';
import type { UpstreamProxy } from '../proxy/upstream-proxy.ts';
import { createSessionCodec, type SessionCodec } from '../session/cookie-codec.ts';
import { sessionClaimNames, sessionProvider } from '../session/session-data.ts';
import type { SharedStore } from '../store/store.ts';
import { type BearerVerifier, createBearerVerifier } from '../tokens/bearer-verifier.ts';
import { createJwksCache } from '../tokens/jwks-cache.ts';

/** Long-lived parts shared by every Runtime of one process. */
export interface Shared {
  readonly log: Log;
  readonly metrics: Metrics;
  readonly dispatcher: Dispatcher;
  readonly proxy: UpstreamProxy;
  readonly audit: AuditLog;
  readonly store: SharedStore;
}

export interface Runtime extends Shared {
  readonly loaded: LoadedConfig;
  readonly config: Config;
  readonly prefix: string;
  readonly publicOrigin?: URL;
  readonly routes: RouteTable;
  readonly policies: ReadonlyMap<string, CompiledPolicy>;
  /** provider names and role mappings, by issuer and by provider */
  readonly idps: IdpDirectory;
  readonly isTrustedProxy: (ip: string | undefined) => boolean;
  readonly stripInbound: (headers: import('node:http').IncomingHttpHeaders) => void;
  readonly isOwnCookie: (name: string) => boolean;
  readonly bearer?: BearerVerifier;
  readonly sessions?: SessionCodec;
  /** one client per login provider, by name */
  readonly oidcClients: ReadonlyMap<string, OidcClient>;
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
  const idps = createIdpDirectory(config);
  const routes = compileRoutes(config.routes);
  const policies = new Map(
    routes.routes.map((r) => [
      r.name,
      compilePolicy(r.config.policy, { enforce: r.config.enforce, mapper: idps }),
    ]),
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
  const oidcClients = new Map<string, OidcClient>();
  let login: LoginEndpoints | undefined;
  let refresher: Refresher | undefined;
  let backchannelLogout: EndpointHandler | undefined;
  // Per provider: its client and the IdP's keys for logout tokens.
  const logoutProviders: LogoutProvider[] = [];
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
  const providers = oidcProviders(config);
  if (providers.length > 0 && sessions && sessionConfig) {
    for (const [i, p] of providers.entries()) {
      const client = await configured(loaded, providerPath(config, i), () =>
        createOidcClient({ oidc: p, dispatcher, log }),
      );
      oidcClients.set(p.name, client);
      // The IdP's keys for logout tokens: fetched on the first logout token, then kept fresh.
      const jwks = createJwksCache({
        issuer: p.issuer,
        jwksUri: async () => (await client.whenReady()).jwks_uri!,
        dispatcher,
        log,
        minTtl: 60_000,
        maxTtl: 3_600_000,
        cooldown: 30_000,
        timeout: p.timeout,
        onRefresh: (result) => shared.metrics.jwksRefresh.inc({ issuer: p.issuer, result }),
      });
      logoutProviders.push({ oidc: p, client, jwks });
    }
    const claimNames = sessionClaimNames(config, idps.claimNames);
    const maxLifetimeS = Math.ceil(sessionConfig.max_lifetime / 1000);
    login = createLoginEndpoints({
      config,
      providers: logoutProviders.map(({ oidc, client }) => ({ config: oidc, client })),
      codec: sessions,
      dispatcher,
      log,
      claimNames,
      providersFor: (rd, origin) => {
        const url = new URL(rd, origin);
        return routes.match(url.host, url.pathname, 'GET')?.config.providers;
      },
      // A signed-out session stays refused until it would have expired anyway, so a copied
      // cookie cannot be replayed after logout.
      onSignOut: (s) => shared.store.revoke(s.id, s.createdAt + maxLifetimeS),
      claimState: (state, ttlMs) =>
        shared.store.claimOnce(`state:${createHash('sha256').update(state).digest('base64url')}`, ttlMs),
      storeFailOpen: config.store_fail_open,
    });
    refresher = createRefresher({
      config,
      clientFor: (s) => oidcClients.get(sessionProvider(s, providers) ?? ''),
      claimNames,
      dispatcher,
      log,
      ...(shared.store.refresh ? { coordinator: shared.store.refresh } : {}),
    });
    backchannelLogout = createBackchannelLogout({
      providers: logoutProviders,
      store: shared.store,
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
  const loginNames = new Set(oidcClients.keys());
  // Per route: can a browser log in here, and with which provider when only one fits.
  const loginTargets = new Map<string, LoginTarget>(
    routes.routes.map((r) => {
      const fitting = (r.config.providers ?? [...loginNames]).filter((n) => loginNames.has(n));
      const canLogin = login !== undefined && r.config.auth.includes('session') && fitting.length > 0;
      const only = loginNames.size > 1 && fitting.length === 1 ? fitting[0] : undefined;
      return [r.name, { startUrl, canLogin, ...(only !== undefined ? { provider: only } : {}) }];
    }),
  );

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
    idps,
    isTrustedProxy: createTrustedProxies(config.server.trusted_proxies),
    stripInbound: stripper,
    isOwnCookie,
    bearer,
    sessions,
    oidcClients,
    login,
    refresher,
    backchannelLogout,
    signingKeys,
    assertions,
    loginTarget: (route) => loginTargets.get(route.name)!,
    ready: () => [...oidcClients.values()].every((c) => c.ready) && (bearer ? bearer.ready : true),
    close() {
      for (const c of oidcClients.values()) c.close();
      bearer?.close();
      for (const p of logoutProviders) p.jwks.close();
    },
  };
}

/** Start background work (discovery, JWKS) once the runtime is the live one. */
export function startRuntime(rt: Runtime): void {
  for (const c of rt.oidcClients.values()) c.start();
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
