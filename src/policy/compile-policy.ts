/**
 * A route's policy, compiled once at config load into closures over Sets, so `decide` is a
 * few look-ups and returns a decision object built ahead of time (nothing allocated per call).
 *
 * Order of evaluation: public → allow; anonymous → login; any matching deny rule → deny;
 * the first matching allow rule → allow; nothing matched → deny. A rule is the AND of its
 * conditions; values inside one condition are ORed. Dry run (`enforce: false`) turns every
 * non-allow outcome into allow, keeping the real reason for the audit line.
 */
import type { PolicyConfig, RuleConfig } from '../config/schema.ts';
import type { ReasonCode } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import { compileAuthTypes } from './criteria/auth-types.ts';
import { compileAuthenticated } from './criteria/authenticated.ts';
import { compileClaims } from './criteria/claims.ts';
import type { Criterion } from './criteria/criterion.ts';
import { compileEmailDomains } from './criteria/email-domains.ts';
import { compileEmails } from './criteria/emails.ts';
import { compileGroups } from './criteria/groups.ts';
import { compileProviders } from './criteria/providers.ts';
import { compileRoles } from './criteria/roles.ts';
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
}

export interface CompiledPolicy {
  decide(identity: Identity | undefined): Decision;
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
    return Object.freeze({ isPublic: true, decide: () => allow });
  }

  const knownRoles = opts.mapper?.knownRoles;
  const deny = policy.deny.map((rule, i) => compileRule(rule, `deny[${i}]`, knownRoles));
  const allow = policy.allow.map((rule, i) => compileRule(rule, `allow[${i}]`, knownRoles));
  const login = finish('login', 'no_credentials');
  const noMatch = finish('deny', 'no_rule_matched');
  // Nothing matched for an identity whose IdP left its groups out: say so, not a bare no-match.
  const overage = finish('deny', 'groups_overage');
  const denied = deny.map((_, i) => finish('deny', 'policy_denied', `deny[${i}]`));
  const allowed = allow.map((_, i) => finish('allow', 'policy_allowed', `allow[${i}]`));

  return Object.freeze({
    isPublic: false,
    decide(identity: Identity | undefined): Decision {
      if (identity === undefined) return login;
      for (let i = 0; i < deny.length; i++) if (deny[i]!(identity)) return denied[i]!;
      for (let i = 0; i < allow.length; i++) if (allow[i]!(identity)) return allowed[i]!;
      return identity.groupsOverage === true ? overage : noMatch;
    },
  });
}

/** One rule: every present condition must hold. */
export function compileRule(rule: RuleConfig, label: string, knownRoles?: ReadonlySet<string>): Criterion {
  const all: Criterion[] = [];
  try {
    if (rule.authenticated === true) all.push(compileAuthenticated());
    if (rule.roles !== undefined) all.push(compileRoles(rule.roles, knownRoles));
    if (rule.groups !== undefined) all.push(compileGroups(rule.groups));
    if (rule.emails !== undefined) all.push(compileEmails(rule.emails));
    if (rule.email_domains !== undefined) all.push(compileEmailDomains(rule.email_domains));
    if (rule.claims !== undefined) all.push(compileClaims(rule.claims));
    if (rule.auth_types !== undefined) all.push(compileAuthTypes(rule.auth_types));
    if (rule.providers !== undefined) all.push(compileProviders(rule.providers));
  } catch (err) {
    if (err instanceof TypeError) err.message = `${label}.${err.message}`;
    throw err;
  }
  // Fail closed: a rule with no condition (the schema forbids it) matches nothing, not everyone.
  if (all.length === 0) return () => false;
  if (all.length === 1) return all[0]!;
  return (identity) => {
    for (let i = 0; i < all.length; i++) if (!all[i]!(identity)) return false;
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
