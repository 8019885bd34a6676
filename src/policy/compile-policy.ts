/**
 * A route's policy, compiled once at config load into closures over Sets, so `decide` is a
 * few look-ups and returns a decision object built ahead of time (nothing allocated per call).
 *
 * Order of evaluation: public → allow; anonymous → login; any matching deny rule → deny;
 * the first matching allow rule → allow; nothing matched → deny. A rule is the AND of its
 * conditions; values inside one condition are ORed (except `scopes`: all are required). Dry
 * run (`enforce: false`) turns every non-allow outcome into allow, keeping the real reason for
 * the audit line.
 *
 * When nothing matched but an allow rule failed on its `scopes` alone, the deny says so
 * (`insufficient_scope`, naming the rule and the scopes it needs), so a client can ask its
 * authorization server for them (RFC 6750 §3.1).
 */
import type { PolicyConfig, RuleConfig } from '../config/schema.ts';
import type { ReasonCode } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import { compileAuthTypes } from './criteria/auth-types.ts';
import { compileAuthenticated } from './criteria/authenticated.ts';
import { compileClaims } from './criteria/claims.ts';
import { compileClientCertificate } from './criteria/client-certificate.ts';
import { compileClients } from './criteria/clients.ts';
import { type Criterion, NO_REQUEST, type RequestFacts } from './criteria/criterion.ts';
import { compileEmailDomains } from './criteria/email-domains.ts';
import { compileEmails } from './criteria/emails.ts';
import { compileGroups } from './criteria/groups.ts';
import { compileProviders } from './criteria/providers.ts';
import { compileRoles } from './criteria/roles.ts';
import { compileScopes } from './criteria/scopes.ts';
import { compileSourceIps } from './criteria/source-ips.ts';
import type { RoleMapper } from './roles.ts';

export type DecisionOutcome = 'allow' | 'deny' | 'login';

export interface Decision {
  readonly outcome: DecisionOutcome;
  readonly reason: ReasonCode;
  /** which rule decided, e.g. "deny[0]" or "allow[1]"; absent for public/no-match */
  readonly rule?: string;
  /** true when the route is in dry run and the real outcome was not allow */
  readonly dryRun: boolean;
  /** what would have happened without dry run */
  readonly enforcedOutcome: DecisionOutcome;
  /** `insufficient_scope`: the scopes (space-separated) the rule in `rule` requires */
  readonly requiredScope?: string;
}

/** How one rule fared, key by key, for `explain`. */
export interface RuleTrace {
  /** "deny[0]", "allow[1]" */
  readonly rule: string;
  readonly matched: boolean;
  /** every key of the rule, in a fixed order (not the YAML's), and whether it held */
  readonly checks: readonly { readonly key: string; readonly matched: boolean }[];
}

export interface CompiledPolicy {
  /** `request` defaults to one whose client address is unknown */
  decide(identity: Identity | undefined, request?: RequestFacts): Decision;
  /** every rule's outcome, key by key (public and anonymous: none); explain only, not per request */
  trace?(identity: Identity | undefined, request?: RequestFacts): RuleTrace[];
  readonly isPublic: boolean;
}

export interface CompilePolicyOptions {
  /** false = dry run */
  enforce: boolean;
  /** when given, `roles:` values no role map produces are refused */
  mapper?: Pick<RoleMapper, 'knownRoles'>;
}

/**
 * @throws TypeError `ERR_INVALID_ARG_VALUE` for a condition that could never match exactly
 *   (unknown role, malformed email or domain), naming the rule: a deny rule that silently
 *   never matches would be a hole.
 */
export function compilePolicy(policy: PolicyConfig, opts: CompilePolicyOptions): CompiledPolicy {
  const finish = (outcome: DecisionOutcome, reason: ReasonCode, rule?: string): Decision =>
    makeDecision(outcome, reason, rule, opts.enforce);

  if (policy === 'public') {
    const allow = finish('allow', 'public_route');
    return Object.freeze({ isPublic: true, decide: () => allow, trace: () => [] });
  }

  const knownRoles = opts.mapper?.knownRoles;
  const denyRules = policy.deny.map((rule, i) => compileRuleParts(rule, `deny[${i}]`, knownRoles));
  const allowRules = policy.allow.map((rule, i) => compileRuleParts(rule, `allow[${i}]`, knownRoles));
  const deny = denyRules.map((r) => r.test);
  const allow = allowRules.map((r) => r.test);
  // Allow rules with `scopes:`, each with its ready-made "only the scopes were missing" deny.
  const scoped = allowRules.flatMap((r) =>
    r.scopes === undefined
      ? []
      : [
          {
            rest: r.scopes.rest,
            decision: Object.freeze({
              ...finish('deny', 'insufficient_scope', r.label),
              requiredScope: r.scopes.required,
            }),
          },
        ],
  );
  const login = finish('login', 'no_credentials');
  const noMatch = finish('deny', 'no_rule_matched');
  // Nothing matched for an identity whose IdP left its groups out: say so, not a bare no-match.
  const overage = finish('deny', 'groups_overage');
  const denied = deny.map((_, i) => finish('deny', 'policy_denied', `deny[${i}]`));
  const allowed = allow.map((_, i) => finish('allow', 'policy_allowed', `allow[${i}]`));

  return Object.freeze({
    isPublic: false,
    decide(identity: Identity | undefined, request: RequestFacts = NO_REQUEST): Decision {
      if (identity === undefined) return login;
      for (let i = 0; i < deny.length; i++) if (deny[i]!(identity, request)) return denied[i]!;
      for (let i = 0; i < allow.length; i++) if (allow[i]!(identity, request)) return allowed[i]!;
      // Refused either way; only now is it worth asking whether scopes alone were missing.
      for (let i = 0; i < scoped.length; i++)
        if (scoped[i]!.rest(identity, request)) return scoped[i]!.decision;
      return identity.groupsOverage === true ? overage : noMatch;
    },
    trace(identity: Identity | undefined, request: RequestFacts = NO_REQUEST): RuleTrace[] {
      if (identity === undefined) return [];
      return [...denyRules, ...allowRules].map((r) => {
        const checks = r.checks.map((c) => ({ key: c.key, matched: c.test(identity, request) }));
        return { rule: r.label, matched: r.test(identity, request), checks };
      });
    },
  });
}

interface CompiledRule {
  readonly label: string;
  /** the whole rule: every present condition holds */
  readonly test: Criterion;
  /** each condition on its own, for {@link RuleTrace} */
  readonly checks: readonly { readonly key: keyof RuleConfig; readonly test: Criterion }[];
  /** the rule's `scopes:` (space-separated) and the rest of the rule without them */
  readonly scopes?: { readonly required: string; readonly rest: Criterion };
}

/** One rule: every present condition must hold. */
export function compileRule(rule: RuleConfig, label: string, knownRoles?: ReadonlySet<string>): Criterion {
  return compileRuleParts(rule, label, knownRoles).test;
}

function compileRuleParts(rule: RuleConfig, label: string, knownRoles?: ReadonlySet<string>): CompiledRule {
  const checks: { key: keyof RuleConfig; test: Criterion }[] = [];
  const add = (key: keyof RuleConfig, test: Criterion) => checks.push({ key, test });
  try {
    if (rule.authenticated === true) add('authenticated', compileAuthenticated());
    if (rule.roles !== undefined) add('roles', compileRoles(rule.roles, knownRoles));
    if (rule.groups !== undefined) add('groups', compileGroups(rule.groups));
    if (rule.emails !== undefined) add('emails', compileEmails(rule.emails));
    if (rule.email_domains !== undefined) add('email_domains', compileEmailDomains(rule.email_domains));
    if (rule.claims !== undefined) add('claims', compileClaims(rule.claims));
    if (rule.auth_types !== undefined) add('auth_types', compileAuthTypes(rule.auth_types));
    if (rule.providers !== undefined) add('providers', compileProviders(rule.providers));
    if (rule.clients !== undefined) add('clients', compileClients(rule.clients));
    if (rule.source_ips !== undefined) add('source_ips', compileSourceIps(rule.source_ips));
    if (rule.scopes !== undefined) add('scopes', compileScopes(rule.scopes));
    if (rule.client_certificate !== undefined)
      add('client_certificate', compileClientCertificate(rule.client_certificate));
  } catch (err) {
    if (err instanceof TypeError) err.message = `${label}.${err.message}`;
    throw err;
  }
  const test = allOf(checks.map((c) => c.test));
  if (rule.scopes === undefined) return { label, test, checks };
  const rest = allOf(
    checks.filter((c) => c.key !== 'scopes').map((c) => c.test),
    true,
  );
  return { label, test, checks, scopes: { required: [...new Set(rule.scopes)].join(' '), rest } };
}

/**
 * The AND of `all`. Fail closed: no condition at all (the schema forbids such a rule) matches
 * nothing, not everyone – unless `emptyMatches`, for the rest of a rule that had only scopes.
 */
function allOf(all: readonly Criterion[], emptyMatches = false): Criterion {
  if (all.length === 0) return emptyMatches ? () => true : () => false;
  if (all.length === 1) return all[0]!;
  return (identity, request) => {
    for (let i = 0; i < all.length; i++) if (!all[i]!(identity, request)) return false;
    return true;
  };
}

function makeDecision(
  outcome: DecisionOutcome,
  reason: ReasonCode,
  rule: string | undefined,
  enforce: boolean,
) {
  const dryRun = !enforce && outcome !== 'allow';
  const decision: Decision = {
    outcome: dryRun ? 'allow' : outcome,
    reason,
    ...(rule === undefined ? {} : { rule }),
    dryRun,
    enforcedOutcome: outcome,
  };
  return Object.freeze(decision);
}
