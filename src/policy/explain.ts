/**
 * `gatehouse explain`: which route a URL reaches and what the policy decides for some claims,
 * with no network call. It uses the same route table, request-target parsing, identity
 * builder and compiled policies as the proxy, so its answer is the proxy's answer.
 */
import type { AuthType, Config } from '../config/schema.ts';
import { GatehouseError, type ReasonCode } from '../errors.ts';
import { parseRequestTarget } from '../http/request-target.ts';
import type { Identity } from '../identity/identity.ts';
import { type CompiledPolicy, compilePolicy, type DecisionOutcome } from './compile-policy.ts';
import { identityFromClaims } from './identity-from-claims.ts';
import { acceptsProvider, createIdpDirectory, type IdpDirectory, type IdpEntry } from './idp-directory.ts';
import { compileRoutes } from './route-table.ts';

export interface ExplainInput {
  /** absolute URL (`https://app.example.com/admin?x=1`) or an origin-form path (`/admin`) */
  url: string;
  /** default GET */
  method?: string;
  /** verified token / session claims; absent = anonymous */
  claims?: Record<string, unknown>;
  /** default session */
  authType?: AuthType;
  /**
   * the provider the claims come from (its role mapping applies); default: the provider of the
   * claims' `iss`, else the first login provider
   */
  provider?: string;
}

export interface ExplainResult {
  route?: string;
  upstream?: string;
  /** the trusted email, when the claims carry one */
  email?: string;
  /** the provider whose mapping was applied */
  idp?: string;
  groups: string[];
  roles: string[];
  /** what the proxy does (in dry run: allow) */
  decision: DecisionOutcome | 'no_route';
  reason: ReasonCode;
  rule?: string;
  dryRun: boolean;
  /** what the policy itself decided; differs from `decision` only in dry run */
  enforcedDecision: DecisionOutcome | 'no_route';
}

/** Placeholder subject for claims written without one (policy `tests:` rarely name a sub). */
const EXPLAIN_SUB = 'gatehouse-explain';

/**
 * Compile the config once and explain many inputs (`gatehouse check` runs every test).
 * @throws TypeError when a route policy cannot compile (see {@link compilePolicy})
 */
export function createExplainer(config: Config): (input: ExplainInput) => ExplainResult {
  const table = compileRoutes(config.routes);
  const idps = createIdpDirectory(config);
  const policies = new Map<string, CompiledPolicy>();
  for (const route of table.routes) {
    policies.set(
      route.name,
      compilePolicy(route.config.policy, { enforce: route.config.enforce, mapper: idps }),
    );
  }

  return (input) => {
    const { host, target } = splitUrl(input.url);
    const { path } = parseRequestTarget(target);
    const route = table.match(host, path, (input.method ?? 'GET').toUpperCase());
    const authType = input.authType ?? 'session';
    let identity: Identity | undefined;
    if (input.claims !== undefined) {
      const idp = mappingEntry(idps, input);
      identity = identityFromClaims(
        { sub: EXPLAIN_SUB, ...input.claims },
        {
          authType,
          mapper: idp.mapper,
          expiresAt: Math.floor(Date.now() / 1000) + 3600,
          ...(idp.name !== undefined ? { idp: idp.name } : {}),
        },
      );
    }
    const base = {
      ...(identity?.email === undefined ? {} : { email: identity.email }),
      ...(identity?.idp === undefined ? {} : { idp: identity.idp }),
      groups: [...(identity?.groups ?? [])],
      roles: [...(identity?.roles ?? [])],
    };
    if (route === undefined) {
      return {
        ...base,
        decision: 'no_route',
        reason: 'route_not_found',
        dryRun: false,
        enforcedDecision: 'no_route',
      };
    }
    const policy = policies.get(route.name)!;
    // A credential (or provider) the route does not accept is never read: the request is anonymous.
    const refused: ReasonCode | undefined =
      identity === undefined || policy.isPublic
        ? undefined
        : !route.config.auth.includes(authType)
          ? 'auth_type_not_allowed'
          : !acceptsProvider(route.config.providers, identity.idp)
            ? 'provider_not_allowed'
            : undefined;
    const d = policy.decide(refused ? undefined : identity);
    return {
      route: route.name,
      upstream: route.upstream.href,
      ...base,
      decision: d.outcome,
      reason: refused ?? d.reason,
      ...(d.rule === undefined ? {} : { rule: d.rule }),
      dryRun: d.dryRun,
      enforcedDecision: d.enforcedOutcome,
    };
  };
}

/** The directory entry whose mapping applies to explained claims (see {@link ExplainInput.provider}). */
function mappingEntry(idps: IdpDirectory, input: ExplainInput): IdpEntry {
  if (input.provider !== undefined) {
    const named = idps.forProvider(input.provider);
    if (named === undefined)
      throw new GatehouseError('unknown_provider', `no provider is named "${input.provider}"`);
    return named;
  }
  const iss = input.claims?.iss;
  const first = idps.providers[0];
  if (typeof iss === 'string' || first === undefined)
    return idps.forIssuer(typeof iss === 'string' ? iss : '');
  return idps.forProvider(first.name)!;
}

/**
 * Explain one request against a config.
 * @throws GatehouseError `bad_request` for a URL the proxy would refuse; `missing_claim` for a
 *   non-string `sub`; TypeError `ERR_INVALID_ARG_VALUE` for a URL that does not parse
 */
export function explain(config: Config, input: ExplainInput): ExplainResult {
  return createExplainer(config)(input);
}

/** `key: value` lines, in a fixed order, for the CLI. */
export function formatExplain(result: ExplainResult): string {
  const lines: string[] = [];
  if (result.route !== undefined) lines.push(`route: ${result.route}`);
  if (result.upstream !== undefined) lines.push(`upstream: ${result.upstream}`);
  lines.push(`decision: ${result.decision}`, `reason: ${result.reason}`);
  if (result.rule !== undefined) lines.push(`rule: ${result.rule}`);
  if (result.dryRun) lines.push('dry_run: true', `enforced_decision: ${result.enforcedDecision}`);
  if (result.idp !== undefined) lines.push(`provider: ${result.idp}`);
  if (result.email !== undefined) lines.push(`email: ${result.email}`);
  lines.push(`groups: ${result.groups.join(',')}`, `roles: ${result.roles.join(',')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Host and raw request target. The path is cut from the string itself rather than taken from
 * WHATWG URL, which would resolve `..` and re-encode before the proxy's own parser sees it.
 */
function splitUrl(url: string): { host: string | undefined; target: string } {
  if (url.startsWith('/')) return { host: undefined, target: url };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw Object.assign(
      new TypeError(`"url" must be an absolute http(s) URL or a path, got "${url}"`, { cause }),
      {
        code: 'ERR_INVALID_ARG_VALUE',
      },
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new GatehouseError('bad_request', `"url" must use http or https, got "${parsed.protocol}"`);
  }
  const rest = /^https?:\/\/[^/?#\\]*([^#]*)/i.exec(url)?.[1];
  // Spellings WHATWG URL repairs (`https:\\host`, `https:host`) are not what a client sends.
  if (rest === undefined) {
    throw Object.assign(new TypeError(`"url" must be written https://host/path, got "${url}"`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  return { host: parsed.host, target: rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest };
}
