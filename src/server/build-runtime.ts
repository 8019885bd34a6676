/**
 * Composes one config's {@link Runtime} (the pipeline's contract, `pipeline/runtime.ts`), once
 * per load or reload, in named steps:
 *
 *   routing → assertions → bearer → login (sessions, providers, endpoints, refresh, logout)
 *           → forwarding → login targets
 *
 * Nothing per-request is left for the hot path that could be done here.
 */
import { createHash, randomBytes } from 'node:crypto';
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
import { limitKeySecret } from '../limits/limit-key.ts';
import { limiterFor } from '../limits/limiter.ts';
import { createMemoryLimiter } from '../limits/memory-limiter.ts';
import { createBackchannelLogout, type LogoutProvider } from '../oidc/backchannel-logout.ts';
import { createLoginEndpoints } from '../oidc/login-endpoints.ts';
import type { EndpointHandler, LoginEndpoints } from '../oidc/login-shared.ts';
import { createOidcClient, type OidcClient } from '../oidc/oidc-client.ts';
import { createRefresher, type Refresher } from '../oidc/refresh.ts';
import { createPages, type Pages } from '../pages/pages.ts';
import type { LoginTarget, Routing, Runtime, Shared } from '../pipeline/runtime.ts';
import { compilePolicy } from '../policy/compile-policy.ts';
import { createIdpDirectory, type IdpDirectory } from '../policy/idp-directory.ts';
import { compileRoutes, type RouteTable } from '../policy/route-table.ts';
import { createSessionCodec, type SessionCodec } from '../session/cookie-codec.ts';
import { sessionClaimNames, sessionProvider } from '../session/session-data.ts';
import { createStoreSessionCodec } from '../session/store-codec.ts';
import type { SessionRecords } from '../store/store.ts';
import { type BearerVerifier, createBearerVerifier } from '../tokens/bearer-verifier.ts';

export async function buildRuntime(
  loaded: LoadedConfig,
  shared: Shared,
  previous?: { signingKeys: SigningKeys; config: Config },
): Promise<Runtime> {
  const config = loaded.config;
  const idps = createIdpDirectory(config);
  const { routes, policies } = compileRouting(config, idps);
  const signingKeys = await assertionKeys(loaded, shared, previous);
  const assertions = assertionSigner(config, signingKeys);
  const bearer = bearerVerifier(config, shared);
  const pages = pagesOf(loaded);
  const login = await loginParts(loaded, shared, idps, routes, pages);
  const publicOrigin = config.server.public_url ? new URL(config.server.public_url) : undefined;

  shared.metrics.watchCache('tokens', () => bearer?.stats);
  shared.metrics.watchCache('sessions', () => login.sessions?.stats);
  shared.metrics.watchCache('assertions', () => assertions.stats);

  return {
    ...shared,
    loaded,
    config,
    // routing
    prefix: config.server.endpoints_prefix,
    publicOrigin,
    routes,
    policies,
    isTrustedProxy: createTrustedProxies(config.server.trusted_proxies),
    loginTarget: loginTargets(config, routes, publicOrigin, login),
    pages,
    // identifying
    idps,
    bearer,
    sessions: login.sessions,
    refresher: login.refresher,
    // limiting
    limiter: limiterFor(shared.store, () => createMemoryLimiter()),
    limitKey: rateLimitKey(config),
    // forwarding
    signingKeys,
    assertions,
    stripInbound: createInboundStripper({ assertionHeader: config.identity.assertion.header }),
    isOwnCookie: createOwnCookieMatcher(
      login.sessions?.cookieName ?? config.session?.cookie_name ?? 'gatehouse',
    ),
    // endpoints
    oidcClients: login.clients,
    login: login.endpoints,
    backchannelLogout: login.backchannelLogout,
    ready: () => [...login.clients.values()].every((c) => c.ready) && (bearer ? bearer.ready : true),
    close() {
      for (const c of login.clients.values()) c.close();
      bearer?.close(); // a client's close also closes its keys (the logout tokens' too)
    },
  };
}

/**
 * The key bucket keys are hashed with: `rate_limit_secret`, else the first session secret (both
 * the same on every replica); else – one process, memory buckets – a random one, made once per
 * process so a reload keeps every bucket.
 */
function rateLimitKey(config: Config): string {
  const secret = config.rate_limit_secret ?? config.session?.secrets[0];
  if (secret !== undefined) return limitKeySecret(secret);
  processLimitKey ??= randomBytes(32).toString('hex');
  return processLimitKey;
}
let processLimitKey: string | undefined;

/** Start background work (discovery, JWKS) once the runtime is the live one. */
export function startRuntime(rt: Runtime): void {
  for (const c of rt.oidcClients.values()) c.start();
  void rt.bearer
    ?.start()
    .catch((err: unknown) => rt.log.warn({ err }, 'bearer key loading failed; retrying'));
}

function compileRouting(config: Config, idps: IdpDirectory): Pick<Routing, 'routes' | 'policies'> {
  const routes = compileRoutes(config.routes);
  const policies = new Map(
    routes.routes.map((r) => [
      r.name,
      compilePolicy(r.config.policy, { enforce: r.config.enforce, mapper: idps }),
    ]),
  );
  return { routes, policies };
}

/**
 * A generated (unconfigured) assertion key survives reloads, so assertions already handed out
 * keep verifying; a configured key is re-read every time (rotation through the file).
 */
async function assertionKeys(
  loaded: LoadedConfig,
  shared: Shared,
  previous: { signingKeys: SigningKeys; config: Config } | undefined,
): Promise<SigningKeys> {
  const assertion = loaded.config.identity.assertion;
  const keepGenerated =
    previous?.signingKeys.generated &&
    !assertion.key &&
    previous.config.identity.assertion.algorithm === assertion.algorithm;
  if (keepGenerated) return previous.signingKeys;
  return configured(loaded, ['identity', 'assertion', 'key'], () => loadSigningKeys(assertion, shared.log));
}

function assertionSigner(config: Config, keys: SigningKeys): AssertionSigner {
  const assertion = config.identity.assertion;
  return createAssertionSigner({
    keys,
    issuer: config.server.public_url ?? 'gatehouse',
    ttlMs: assertion.ttl,
    bindRequest: assertion.bind_request,
    cacheSize: config.cache.assertions,
    header: assertion.header,
  });
}

function bearerVerifier(config: Config, shared: Shared): BearerVerifier | undefined {
  if (config.bearer.length === 0) return undefined;
  return createBearerVerifier({
    issuers: config.bearer,
    cacheSize: config.cache.tokens,
    dispatcher: shared.dispatcher,
    log: shared.log,
    onJwksRefresh: (iss, result) => shared.metrics.jwksRefresh.inc({ issuer: iss, result }),
  });
}

/** Everything browser login needs; all absent without `session` and a provider. */
interface LoginParts {
  readonly sessions?: SessionCodec;
  readonly clients: ReadonlyMap<string, OidcClient>;
  readonly logoutProviders: readonly LogoutProvider[];
  readonly endpoints?: LoginEndpoints;
  readonly refresher?: Refresher;
  readonly backchannelLogout?: EndpointHandler;
}

async function loginParts(
  loaded: LoadedConfig,
  shared: Shared,
  idps: IdpDirectory,
  routes: RouteTable,
  pages: Pages,
): Promise<LoginParts> {
  const config = loaded.config;
  const session = config.session;
  if (!session) return { clients: new Map(), logoutProviders: [] };
  const sessions = await configured(loaded, ['session'], () => {
    const opts = {
      session,
      secure: config.server.public_url ? new URL(config.server.public_url).protocol === 'https:' : false,
      cacheSize: config.cache.sessions,
      log: shared.log,
    };
    return session.storage === 'store'
      ? createStoreSessionCodec({ ...opts, records: shared.store.sessions })
      : createSessionCodec(opts);
  });
  const providers = oidcProviders(config);
  if (providers.length === 0) return { sessions, clients: new Map(), logoutProviders: [] };

  const logoutProviders = await providerClients(loaded, shared);
  const clients = new Map(logoutProviders.map((p) => [p.oidc.name, p.client]));
  const claimNames = sessionClaimNames(config, idps.claimNames);
  const maxLifetimeS = Math.ceil(session.max_lifetime / 1000);
  const { dispatcher, log, store } = shared;
  const endpoints = createLoginEndpoints({
    config,
    providers: logoutProviders.map(({ oidc, client }) => ({ config: oidc, client })),
    codec: sessions,
    dispatcher,
    log,
    claimNames,
    pages,
    providersFor: (rd, origin) => {
      const url = new URL(rd, origin);
      return routes.match(url.host, url.pathname, 'GET')?.config.providers;
    },
    // A signed-out session stays refused until it would have expired anyway, so a copied
    // cookie cannot be replayed after logout.
    onSignOut: async (s) => {
      await store.revoke(s.id, s.createdAt + maxLifetimeS);
      // With store storage the record goes too (s.id is its key); the revocation above is what
      // reaches the other replicas' caches at once.
      if (session.storage === 'store') await store.sessions.delete(s.id, String(s.claims.sub));
    },
    claimState: (state, ttlMs) =>
      store.claimOnce(`state:${createHash('sha256').update(state).digest('base64url')}`, ttlMs),
    storeFailOpen: config.store_fail_open,
  });
  const refresher = createRefresher({
    config,
    clientFor: (s) => clients.get(sessionProvider(s, providers) ?? ''),
    claimNames,
    dispatcher,
    log,
    ...(store.refresh ? { coordinator: store.refresh } : {}),
  });
  const backchannelLogout = createBackchannelLogout({
    providers: logoutProviders,
    store,
    log,
    maxLifetimeS,
    storeFailOpen: config.store_fail_open,
    ...(session.storage === 'store'
      ? { deleteRecords: (logout, nowS) => deleteLoggedOut(store.sessions, logout, nowS) }
      : {}),
  });
  return { sessions, clients, logoutProviders, endpoints, refresher, backchannelLogout };
}

/**
 * The stored sessions a back-channel logout names: the subject's records of that issuer made
 * until now, only those of the IdP session when it names one. A logout by `sid` alone names no
 * subject to look up: its records stay revoked and expire in the store.
 */
async function deleteLoggedOut(
  records: SessionRecords,
  logout: { issuer: string; sub?: string; sid?: string },
  nowS: number,
): Promise<number> {
  if (logout.sub === undefined) return 0;
  let deleted = 0;
  for (const s of await records.list(logout.sub)) {
    if (s.iss !== logout.issuer || s.createdAt > nowS) continue;
    if (logout.sid !== undefined && s.idpSid !== logout.sid) continue;
    await records.delete(s.id, logout.sub);
    deleted++;
  }
  return deleted;
}

/** Per provider: its OIDC client, whose keys (fetched on first use) check ID and logout tokens. */
async function providerClients(loaded: LoadedConfig, shared: Shared): Promise<LogoutProvider[]> {
  const config = loaded.config;
  const { dispatcher, log, metrics } = shared;
  const out: LogoutProvider[] = [];
  for (const [i, p] of oidcProviders(config).entries()) {
    const client = await configured(loaded, providerPath(config, i), () =>
      createOidcClient({
        oidc: p,
        dispatcher,
        log,
        onJwksRefresh: (result) => metrics.jwksRefresh.inc({ issuer: p.issuer, result }),
      }),
    );
    // Logout tokens are checked with the same keys as ID tokens: one cache per provider.
    out.push({ oidc: p, client, jwks: client.keys });
  }
  return out;
}

/** The pages of this config: `ui:` (its files read at load) and each provider's display name. */
function pagesOf(loaded: LoadedConfig): Pages {
  const config = loaded.config;
  return createPages({
    prefix: config.server.endpoints_prefix,
    ...(loaded.ui !== undefined ? { ui: loaded.ui } : {}),
    idpLabels: new Map(oidcProviders(config).map((p) => [p.name, p.display_name ?? p.name])),
  });
}

/** Per route: can a browser log in here, and with which provider when only one fits. */
function loginTargets(
  config: Config,
  routes: RouteTable,
  publicOrigin: URL | undefined,
  login: LoginParts,
): Routing['loginTarget'] {
  const startPath = `${config.server.endpoints_prefix}/start`;
  const startUrl = publicOrigin ? new URL(startPath, publicOrigin).href : startPath;
  const loginNames = new Set(login.clients.keys());
  const targets = new Map<string, LoginTarget>(
    routes.routes.map((r) => {
      const fitting = (r.config.providers ?? [...loginNames]).filter((n) => loginNames.has(n));
      const canLogin =
        login.endpoints !== undefined && r.config.auth.includes('session') && fitting.length > 0;
      const only = loginNames.size > 1 && fitting.length === 1 ? fitting[0] : undefined;
      return [r.name, { startUrl, canLogin, ...(only !== undefined ? { provider: only } : {}) }];
    }),
  );
  return (route) => targets.get(route.name)!;
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
