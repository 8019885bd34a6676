/**
 * `gatehouse explain`: which route a URL reaches and what the policy decides for some claims,
 * with no network call. It uses the same route table, request-target parsing, identity
 * builder and compiled policies as the proxy, so its answer is the proxy's answer.
 */
import { type Config, type RuleAuthType, shorthandConflict } from '../config/schema.ts';
import { GatehouseError, type ReasonCode } from '../errors.ts';
import { parseCidr } from '../http/cidr.ts';
import { parseRequestTarget } from '../http/request-target.ts';
import type { Identity } from '../identity/identity.ts';
import {
  type CompiledPolicy,
  compilePolicy,
  type DecisionOutcome,
  type RuleTrace,
} from './compile-policy.ts';
import type { RequestFacts } from './criteria/criterion.ts';
import { candidateRoutes, unmappedGroups, unmetConditions } from './explain-detail.ts';
import { grantedScopes } from './granted-scopes.ts';
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
  /**
   * default session; `dpop` / `mtls` is a bearer token whose key was proven on the request (as
   * if the proof had been checked: explain makes no network call and sees no request)
   */
  authType?: RuleAuthType;
  /** shorthand for the `client_id` claim (refused beside a `client_id` or `azp` claim) */
  clientId?: string;
  /** shorthand for the `scope` claim (refused beside a `scope` or `scp` claim) */
  scopes?: readonly string[];
  /** the client address, as `source_ips` rules see it; absent = unknown (matches no block) */
  sourceIp?: string;
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
  /** the identity's OAuth client (`client_id` / `azp`) */
  clientId?: string;
  /** the scopes the claims grant (`scope`, `scp`) */
  scopes: string[];
  /** the client address the rules saw */
  sourceIp?: string;
  /** the credential kind as a rule's `auth_types` sees it */
  authType?: RuleAuthType;
  /** what the proxy does (in dry run: allow) */
  decision: DecisionOutcome | 'no_route';
  reason: ReasonCode;
  rule?: string;
  dryRun: boolean;
  /** what the policy itself decided; differs from `decision` only in dry run */
  enforcedDecision: DecisionOutcome | 'no_route';
  /** `insufficient_scope`: the scopes the rule in `rule` needs */
  requiredScope?: string;
  /** every rule of the route, key by key: why each matched or not (empty when none was asked) */
  trace: RuleTrace[];
  /** what decided against the caller, condition by condition (`allow[0] needs roles [admin]; …`) */
  missing: string[];
  /** the caller's groups that map to no role */
  unmappedGroups: string[];
  /** no route: the routes that came closest (`name: host …, path …`) */
  candidates: string[];
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
    const ruleAuthType = input.authType ?? 'session';
    // A route's `auth:` knows credential kinds: a DPoP- or mTLS-bound token is a bearer token.
    const authType = ruleAuthType === 'session' ? 'session' : 'bearer';
    const request = requestFacts(input.sourceIp);
    let identity: Identity | undefined;
    let unmapped: string[] = [];
    const claims = claimsWithShorthands(input);
    if (claims !== undefined) {
      const idp = mappingEntry(idps, input);
      identity = identityFromClaims(
        { sub: EXPLAIN_SUB, ...claims },
        {
          authType,
          mapper: idp.mapper,
          expiresAt: Math.floor(Date.now() / 1000) + 3600,
          ...(idp.name !== undefined ? { idp: idp.name } : {}),
        },
      );
      if (ruleAuthType === 'dpop' || ruleAuthType === 'mtls')
        identity = Object.freeze({ ...identity, binding: ruleAuthType });
      unmapped = unmappedGroups(identity.groups, idp.mapper);
    }
    const base = {
      ...(identity?.email === undefined ? {} : { email: identity.email }),
      ...(identity?.idp === undefined ? {} : { idp: identity.idp }),
      groups: [...(identity?.groups ?? [])],
      roles: [...(identity?.roles ?? [])],
      ...(identity?.clientId === undefined ? {} : { clientId: identity.clientId }),
      scopes: identity === undefined ? [] : [...grantedScopes(identity.claims)],
      ...(input.sourceIp === undefined ? {} : { sourceIp: request.clientIp }),
      ...(input.authType === undefined ? {} : { authType: input.authType }),
      unmappedGroups: unmapped,
    };
    if (route === undefined) {
      return {
        ...base,
        decision: 'no_route',
        reason: 'route_not_found',
        dryRun: false,
        enforcedDecision: 'no_route',
        trace: [],
        missing: [],
        candidates: candidateRoutes(config.routes, path),
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
    const decided = refused ? undefined : identity;
    const d = policy.decide(decided, request);
    const trace = policy.trace?.(decided, request) ?? [];
    return {
      route: route.name,
      upstream: route.upstream.href,
      ...base,
      decision: d.outcome,
      reason: refused ?? d.reason,
      ...(d.rule === undefined ? {} : { rule: d.rule }),
      dryRun: d.dryRun,
      enforcedDecision: d.enforcedOutcome,
      ...(d.requiredScope === undefined ? {} : { requiredScope: d.requiredScope }),
      trace,
      missing:
        d.enforcedOutcome === 'allow'
          ? []
          : identity === undefined
            ? ['credentials: the route needs a signed-in caller (explain one with --claims JSON)']
            : unmetConditions(route.config.policy, trace, {
                ...(decided === undefined ? {} : { identity: decided }),
                scopes: base.scopes,
                ...(base.sourceIp === undefined ? {} : { sourceIp: base.sourceIp }),
                ...(input.authType === undefined ? {} : { authType: input.authType }),
              }),
      candidates: [],
    };
  };
}

/**
 * The claims with `clientId` / `scopes` written in as `client_id` / `scope`.
 * @throws TypeError `ERR_INVALID_ARG_VALUE` when the claims already say it (which would count?)
 */
function claimsWithShorthands(input: ExplainInput): Record<string, unknown> | undefined {
  const { clientId, scopes } = input;
  if (clientId === undefined && scopes === undefined) return input.claims;
  const conflict = shorthandConflict(input.claims, {
    ...(clientId === undefined ? {} : { client_id: clientId }),
    ...(scopes === undefined ? {} : { scopes }),
  });
  if (conflict) throw invalidInput(`"${conflict.key}": ${conflict.message}`);
  return {
    ...input.claims,
    ...(clientId === undefined ? {} : { client_id: clientId }),
    ...(scopes === undefined ? {} : { scope: scopes.join(' ') }),
  };
}

/** The request as rules see it: the address normalized as the proxy does (IPv4-mapped → IPv4). */
function requestFacts(sourceIp: string | undefined): RequestFacts {
  if (sourceIp === undefined) return { clientIp: '' };
  const parsed = sourceIp.includes('/') ? undefined : parseCidr(sourceIp);
  if (parsed === undefined)
    throw invalidInput(`the source IP must be an address such as 10.1.2.3, got "${sourceIp}"`);
  return { clientIp: parsed.address };
}

function invalidInput(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
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
  if (result.unmappedGroups.length > 0)
    lines.push(`unmapped_groups: ${result.unmappedGroups.join(',')} (no roles.map entry: they give no role)`);
  if (result.authType !== undefined) lines.push(`auth_type: ${result.authType}`);
  if (result.clientId !== undefined) lines.push(`client_id: ${result.clientId}`);
  if (result.scopes.length > 0) lines.push(`scopes: ${result.scopes.join(' ')}`);
  if (result.sourceIp !== undefined) lines.push(`source_ip: ${result.sourceIp}`);
  if (result.requiredScope !== undefined) lines.push(`required_scope: ${result.requiredScope}`);
  // One line per rule: `check: allow[1] no (clients: yes, scopes: no)`.
  for (const t of result.trace) {
    const keys = t.checks.map((c) => `${c.key}: ${c.matched ? 'yes' : 'no'}`).join(', ');
    lines.push(`check: ${t.rule} ${t.matched ? 'yes' : 'no'} (${keys})`);
  }
  // An allow rule's unmet condition is what is missing; a matching deny rule's is what refused.
  for (const m of result.missing) lines.push(`${m.startsWith('deny[') ? 'denied_by' : 'missing'}: ${m}`);
  for (const c of result.candidates) lines.push(`candidate: ${c}`);
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
