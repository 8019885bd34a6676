/**
 * The words `gatehouse explain` adds to a decision: what each rule compared and what the caller
 * lacked (`allow[0] needs roles [admin]; you have [engineer]`), the groups that map to no role,
 * and, when no route matched, the routes that came close. Read-only views of the config and the
 * identity explain already built; nothing here decides anything.
 */
import type { RouteConfig, RuleConfig } from '../config/schema.ts';
import type { Identity } from '../identity/identity.ts';
import { readClaimPath } from './claims.ts';
import type { RuleTrace } from './compile-policy.ts';
import { splitHost } from './route-table.ts';

/** What the caller brings, as the rules see it. */
export interface CallerFacts {
  readonly identity?: Identity;
  readonly scopes: readonly string[];
  readonly sourceIp?: string;
  readonly authType?: string;
}

const list = (values: readonly unknown[]) => `[${values.map(String).join(', ')}]`;

/**
 * One line per condition that decided against the caller: an allow rule's unmet conditions,
 * or the conditions of the deny rule that matched.
 */
export function unmetConditions(
  policy: RouteConfig['policy'],
  trace: readonly RuleTrace[],
  caller: CallerFacts,
): string[] {
  if (policy === 'public') return [];
  const out: string[] = [];
  for (const t of trace) {
    const [kind, index] = parseLabel(t.rule);
    const rule = kind === 'deny' ? policy.deny[index] : policy.allow[index];
    if (rule === undefined) continue;
    if (kind === 'deny') {
      if (!t.matched) continue;
      for (const c of t.checks) out.push(`${t.rule} refuses ${describe(rule, c.key, caller, 'deny')}`);
      continue;
    }
    if (t.matched) continue;
    for (const c of t.checks)
      if (!c.matched) out.push(`${t.rule} needs ${describe(rule, c.key, caller, 'allow')}`);
  }
  return out;
}

function parseLabel(label: string): ['allow' | 'deny', number] {
  const m = /^(allow|deny)\[(\d+)\]$/.exec(label);
  return m ? [m[1] as 'allow' | 'deny', Number(m[2])] : ['allow', -1];
}

/** `roles [admin]; you have [engineer]` – the rule's value and the caller's. */
function describe(rule: RuleConfig, key: string, caller: CallerFacts, kind: 'allow' | 'deny'): string {
  const id = caller.identity;
  const email = id?.email;
  const have = (v: readonly unknown[]) => `; you have ${list(v)}`;
  switch (key) {
    case 'authenticated':
      return `a signed-in caller${kind === 'allow' ? '; you are anonymous' : ''}`;
    case 'roles':
      return `roles ${list(rule.roles ?? [])}${have(id?.roles ?? [])}`;
    case 'groups':
      return `groups ${list(rule.groups ?? [])}${have(id?.groups ?? [])}`;
    case 'emails':
      return `emails ${list(rule.emails ?? [])}${have(email ? [email] : [])}`;
    case 'email_domains':
      return `email_domains ${list(rule.email_domains ?? [])}${have(email ? [email.slice(email.lastIndexOf('@') + 1)] : [])}`;
    case 'claims':
      return Object.entries(rule.claims ?? {})
        .map(
          ([path, values]) =>
            `claims.${path} ${list(values)}${have(id ? readClaimPath(id.claims, path) : [])}`,
        )
        .join(' and ');
    case 'auth_types':
      return `auth_types ${list(rule.auth_types ?? [])}${have(caller.authType ? [caller.authType] : [id?.authType ?? 'session'])}`;
    case 'providers':
      return `providers ${list(rule.providers ?? [])}${have(id?.idp ? [id.idp] : [])}`;
    case 'clients':
      return `clients ${list(rule.clients ?? [])}${have(id?.clientId ? [id.clientId] : [])}`;
    case 'scopes':
      return `scopes ${list(rule.scopes ?? [])}${have(caller.scopes)}`;
    case 'source_ips':
      return `source_ips ${list(rule.source_ips ?? [])}${have(caller.sourceIp ? [caller.sourceIp] : [])}`;
    default:
      return key;
  }
}

/** The caller's groups that no role map entry turns into a role. */
export function unmappedGroups(
  groups: readonly string[],
  mapper: { rolesFor(group: string): readonly string[] },
): string[] {
  return groups.filter((g) => mapper.rolesFor(g).length === 0);
}

/** Most candidate routes listed when no route matched. */
const MAX_CANDIDATES = 10;

/**
 * When no route matched: the routes whose path prefix covers the path (they missed on host or
 * method), else every route (at most ten), each as `name: host H, path P, methods [M]`.
 */
export function candidateRoutes(routes: readonly RouteConfig[], path: string): string[] {
  const covers = (prefix: string) =>
    prefix === '/' || path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
  const near = routes.filter((r) => covers(r.match.path));
  const shown = (near.length > 0 ? near : routes).slice(0, MAX_CANDIDATES);
  return shown.map((r) => {
    const host =
      r.match.host === undefined ? 'any host' : `host ${splitHost(r.match.host).name}${portOf(r.match.host)}`;
    const methods = r.match.methods ? `, methods ${list(r.match.methods)}` : '';
    return `${r.name}: ${host}, path ${r.match.path}${methods}`;
  });
}

function portOf(host: string): string {
  const { port } = splitHost(host);
  return port === '' ? '' : `:${port}`;
}
