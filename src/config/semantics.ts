/**
 * Checks that span keys — what the schema alone cannot see. Pure: the validated config in,
 * every problem out (with a path, positioned later by the loader), nothing mutated.
 *
 * Each check here is a config that would start and then fail at 2 a.m.: a route nobody can
 * ever log into, a role no user can ever have, a login with nowhere to keep the session.
 */

import { compilePolicy } from '../policy/compile-policy.ts';
import { mappingSignature } from '../policy/idp-directory.ts';
import { compileRoutes, type RouteTable } from '../policy/route-table.ts';
import { type ConfigPath, formatPath, type PathProblem } from './positions.ts';
import { oidcProviders, providerPath } from './providers.ts';
import type { Config, RouteConfig, RuleConfig } from './schema.ts';

/**
 * @param incomplete top-level sections the schema refused parts of (the config is what remained,
 *   see `partial.ts`): a check that reads one of them is skipped, since what is missing would
 *   only make it report problems the schema already named
 */
export function validateSemantics(config: Config, incomplete: ReadonlySet<string> = NONE): PathProblem[] {
  const whole = (...sections: string[]) => sections.every((s) => !incomplete.has(s));
  const logins = ['server', 'oidc', 'session'];
  return [
    ...(whole(...logins) ? loginChecks(config) : []),
    ...(whole('oidc', 'bearer') ? providerChecks(config) : []),
    ...(whole('oidc', 'bearer') ? providerReferenceChecks(config) : []),
    ...(whole(...logins, 'bearer') ? routeChecks(config) : []),
    ...(whole('roles', 'oidc', 'bearer') ? roleChecks(config) : []),
    ...bearerChecks(config),
    ...compileChecks(config),
    ...(whole('routes') ? testChecks(config) : []),
  ];
}
const NONE: ReadonlySet<string> = new Set();

/**
 * What the route and policy compilers refuse (an upstream URL with credentials, an email rule
 * that is not an address…), reported here so `check` and a reload see it with a position
 * instead of a startup crash. Roles are left to roleChecks, which points at the exact entry.
 */
function compileChecks(config: Config): PathProblem[] {
  const out: PathProblem[] = [];
  config.routes.forEach((route, i) => {
    try {
      compileRoutes([route]);
      compilePolicy(route.policy, { enforce: route.enforce });
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
      out.push({ path: ['routes', i], at: 'key', message: err.message });
    }
  });
  return out;
}

function loginChecks(config: Config): PathProblem[] {
  const out: PathProblem[] = [];
  const { oidc, session } = config;
  if (oidc && !session) {
    out.push({
      path: ['session'],
      anchor: ['oidc'],
      message:
        'oidc is configured but session is not: a browser login needs session.secrets to keep the session',
    });
  }
  if (session && !oidc) {
    out.push({
      path: ['session'],
      at: 'key',
      message: 'session is configured but oidc is not: sessions come from the OIDC login',
    });
  }
  // Each worker has its own memory store: a session made by one is unknown to the next.
  if (session?.storage === 'store' && config.store === 'memory' && config.server.workers !== 1) {
    out.push({
      path: ['session', 'storage'],
      at: 'key',
      message:
        'session.storage: store with store: memory works in one process only: set store to redis://… for server.workers',
    });
  }
  if (oidc && config.server.public_url === undefined) {
    out.push({
      path: ['server', 'public_url'],
      anchor: ['oidc'],
      message:
        'server.public_url is required with oidc: the redirect_uri is public_url + endpoints_prefix + /callback',
    });
  }
  oidcProviders(config).forEach((p, i) => {
    const at = providerPath(config, i);
    const method = p.token_endpoint_auth_method;
    if (
      (method === 'client_secret_basic' || method === 'client_secret_post') &&
      p.client_secret === undefined
    ) {
      out.push({
        path: [...at, 'client_secret'],
        anchor: at,
        message: `client_secret is required with token_endpoint_auth_method "${method}" (or set it to "none" for a public client)`,
      });
    }
    if (method === 'private_key_jwt' && p.private_key === undefined) {
      out.push({
        path: [...at, 'private_key'],
        anchor: at,
        message: 'private_key is required with "private_key_jwt"',
      });
    }
  });
  if (session && session.idle_timeout > session.max_lifetime) {
    out.push({
      path: ['session', 'idle_timeout'],
      message: 'idle_timeout must not be longer than max_lifetime',
    });
  }
  return out;
}

/**
 * Providers: names are unique and present in a list; one issuer maps claims one way (a token's
 * roles must not depend on which entry read it); `claims_namespace` goes with auth0.
 */
function providerChecks(config: Config): PathProblem[] {
  const out: PathProblem[] = [];
  const named = new Map<string, { path: ConfigPath; issuer: string }>();
  const mapping = new Map<string, { path: ConfigPath; signature: string | undefined }>();
  const declare = (
    name: string | undefined,
    issuer: string,
    path: ConfigPath,
    entry: Parameters<typeof mappingSignature>[0],
  ) => {
    if (name !== undefined) {
      const first = named.get(name);
      if (first === undefined) named.set(name, { path, issuer });
      else if (first.issuer !== issuer || path[0] === first.path[0])
        out.push({
          path: [...path, 'name'],
          message: `provider name "${name}" is already used at ${formatPath(first.path)}`,
        });
    }
    if (entry.claims_namespace !== undefined && entry.claims_mapper !== 'auth0')
      out.push({
        path: [...path, 'claims_namespace'],
        message: 'claims_namespace only applies to claims_mapper: auth0',
      });
    if (entry.claims_mapper === 'auth0' && entry.claims_namespace === undefined)
      out.push({
        path: [...path, 'claims_mapper'],
        message:
          'claims_mapper auth0 needs claims_namespace: the prefix of its custom claims, e.g. https://example.com/',
      });
    const signature = mappingSignature(entry);
    const first = mapping.get(issuer);
    if (first === undefined) mapping.set(issuer, { path, signature });
    else if (signature !== undefined && signature !== first.signature)
      out.push({
        path,
        at: 'key',
        message: `issuer "${issuer}" already has a different claim mapping at ${formatPath(first.path)}: one issuer's tokens must map to the same roles wherever they are read`,
      });
  };
  const list = Array.isArray(config.oidc);
  const providers = oidcProviders(config);
  providers.forEach((p, i) => {
    const path = providerPath(config, i);
    if (list && (config.oidc as { name?: string }[])[i]!.name === undefined)
      out.push({ path, at: 'key', message: 'each provider in the oidc list needs a name' });
    declare(list ? p.name : undefined, p.issuer, path, p);
  });
  config.bearer.forEach((b, i) => {
    const linked = providers.find((p) => p.issuer === b.issuer);
    if (linked !== undefined && b.name !== undefined && b.name !== linked.name)
      out.push({
        path: ['bearer', i, 'name'],
        message: `issuer "${b.issuer}" is oidc provider "${linked.name}": its tokens carry that name`,
      });
    declare(linked === undefined ? b.name : undefined, b.issuer, ['bearer', i], b);
  });

  return out;
}

/** Every provider a route, a rule or a test names must exist. */
function providerReferenceChecks(config: Config): PathProblem[] {
  const out: PathProblem[] = [];
  // The names as written (a nameless list entry has none; its placeholder is not offered).
  const written = Array.isArray(config.oidc)
    ? (config.oidc as { name?: string }[]).map((p) => p.name)
    : oidcProviders(config).map((p) => p.name);
  const names = new Set(
    [...written, ...config.bearer.map((b) => b.name)].filter((n): n is string => n !== undefined),
  );
  const unknown = (name: string) =>
    `unknown provider "${name}" – providers are ${names.size > 0 ? [...names].map((n) => `"${n}"`).join(', ') : 'named in oidc[].name and bearer[].name'}`;
  config.routes.forEach((route, i) => {
    route.providers?.forEach((name, k) => {
      if (!names.has(name)) out.push({ path: ['routes', i, 'providers', k], message: unknown(name) });
    });
    if (route.policy === 'public') return;
    for (const kind of ['allow', 'deny'] as const) {
      route.policy[kind].forEach((rule, j) => {
        rule.providers?.forEach((name, k) => {
          if (!names.has(name))
            out.push({ path: ['routes', i, 'policy', kind, j, 'providers', k], message: unknown(name) });
        });
      });
    }
  });
  config.tests.forEach((test, i) => {
    if (test.provider !== undefined && !names.has(test.provider))
      out.push({ path: ['tests', i, 'provider'], message: unknown(test.provider) });
  });
  return out;
}

function routeChecks(config: Config): PathProblem[] {
  const out: PathProblem[] = [];
  const firstByName = new Map<string, number>();
  const prefix = config.server.endpoints_prefix;
  config.routes.forEach((route, i) => {
    const first = firstByName.get(route.name);
    if (first === undefined) firstByName.set(route.name, i);
    else
      out.push({
        path: ['routes', i, 'name'],
        message: `duplicate route name "${route.name}" (first at routes[${first}])`,
      });

    if (underPrefix(route.match.path, prefix)) {
      out.push({
        path: ['routes', i, 'match', 'path'],
        message: `"${route.match.path}" is under server.endpoints_prefix "${prefix}": gatehouse answers those paths itself, so this route is never reached`,
      });
    }

    if (route.rate_limit && config.store !== 'memory' && !config.rate_limit_secret && !config.session) {
      out.push({
        path: ['routes', i, 'rate_limit'],
        at: 'key',
        message:
          'a rate limit on a shared store needs rate_limit_secret (or session.secrets), the same on every replica, to hash bucket keys',
      });
    }

    if (route.policy !== 'public') {
      const usable = route.auth.filter((a) =>
        a === 'bearer' ? config.bearer.length > 0 : config.session !== undefined,
      );
      if (usable.length === 0) {
        out.push({
          path: ['routes', i, 'auth'],
          message: `nothing can ever authenticate on this route: auth is [${route.auth.join(', ')}] but ${missingAuth(route, config)}`,
        });
      }
    }
  });
  return out;
}

function missingAuth(route: RouteConfig, config: Config): string {
  const gaps: string[] = [];
  if (route.auth.includes('session') && config.session === undefined)
    gaps.push('no session/oidc login is configured');
  if (route.auth.includes('bearer') && config.bearer.length === 0)
    gaps.push('no bearer issuers are configured');
  return gaps.join(' and ');
}

/**
 * Identity roles are exactly the values of the role maps (top-level and per provider), so a
 * rule naming another role never matches.
 */
function roleChecks(config: Config): PathProblem[] {
  const maps = [
    config.roles.map,
    ...[...oidcProviders(config), ...config.bearer].map((p) => p.roles?.map ?? {}),
  ];
  const known = new Set(
    maps.flatMap((m) => Object.values(m).flatMap((v) => (typeof v === 'string' ? [v] : v))),
  );
  const out: PathProblem[] = [];
  const listed =
    known.size === 0 ? 'roles.map defines none' : `the known roles are ${[...known].sort().join(', ')}`;
  config.routes.forEach((route, i) => {
    if (route.policy === 'public') return;
    const lists: [string, readonly RuleConfig[]][] = [
      ['allow', route.policy.allow],
      ['deny', route.policy.deny],
    ];
    for (const [kind, rules] of lists) {
      rules.forEach((rule, j) => {
        rule.roles?.forEach((role, k) => {
          if (!known.has(role)) {
            out.push({
              path: ['routes', i, 'policy', kind, j, 'roles', k],
              message: `unknown role "${role}" – roles come from roles.map; ${listed}`,
            });
          }
        });
      });
    }
  });
  return out;
}

/** Tokens are matched to their issuer entry by `iss`; two entries for one issuer are ambiguous. */
function bearerChecks(config: Config): PathProblem[] {
  const out: PathProblem[] = [];
  const first = new Map<string, number>();
  config.bearer.forEach((entry, i) => {
    const seen = first.get(entry.issuer);
    if (seen === undefined) first.set(entry.issuer, i);
    else
      out.push({
        path: ['bearer', i, 'issuer'],
        message: `issuer "${entry.issuer}" is listed twice (first at bearer[${seen}])`,
      });
  });
  return out;
}

function testChecks(config: Config): PathProblem[] {
  const out: PathProblem[] = [];
  let table: RouteTable;
  try {
    table = compileRoutes(config.routes);
  } catch {
    return out; // routeChecks/compileChecks already report why the routes do not compile
  }
  config.tests.forEach((test, i) => {
    let url: URL;
    try {
      url = new URL(test.url);
    } catch {
      return; // the schema already refused it
    }
    const method = test.method.toUpperCase();
    if (!table.match(url.host, url.pathname, method)) {
      out.push({ path: ['tests', i, 'url'], message: `no route matches ${method} ${test.url}` });
    }
  });
  return out;
}

/** Segment-aware: `/.gatehouse/x` is under `/.gatehouse`, `/.gatehouse2` is not. */
function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}
