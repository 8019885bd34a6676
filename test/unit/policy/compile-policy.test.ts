import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PolicyConfig, policySchema } from '../../../src/config/schema.ts';
import type { Identity } from '../../../src/identity/identity.ts';
import { claimsMapperPreset } from '../../../src/policy/claim-mappers.ts';
import { compilePolicy } from '../../../src/policy/compile-policy.ts';
import { identityFromClaims } from '../../../src/policy/identity-from-claims.ts';
import { createRoleMapper } from '../../../src/policy/roles.ts';

const mapper = createRoleMapper({ claims: ['groups'], map: { Admins: 'admin', Ops: ['ops', 'admin'] } });

function policy(p: unknown): PolicyConfig {
  return policySchema.parse(p);
}

function who(claims: Record<string, unknown>, authType: 'session' | 'bearer' = 'session'): Identity {
  return identityFromClaims({ sub: 'u', ...claims }, { authType, mapper, expiresAt: 2_000_000_000 });
}

describe('compilePolicy', () => {
  it('public allows everyone, even anonymous', () => {
    const p = compilePolicy('public', { enforce: true });
    assert.equal(p.isPublic, true);
    for (const id of [undefined, who({})]) {
      assert.deepEqual(p.decide(id), {
        outcome: 'allow',
        reason: 'public_route',
        dryRun: false,
        enforcedOutcome: 'allow',
      });
    }
  });

  it('anonymous on a protected route needs login', () => {
    const p = compilePolicy(policy({ allow: [{ authenticated: true }] }), { enforce: true });
    assert.equal(p.isPublic, false);
    const d = p.decide(undefined);
    assert.deepEqual(d, {
      outcome: 'login',
      reason: 'no_credentials',
      dryRun: false,
      enforcedOutcome: 'login',
    });
    assert.equal('rule' in d, false);
  });

  it('the first matching allow rule decides', () => {
    const p = compilePolicy(policy({ allow: [{ groups: ['g1'] }, { authenticated: true }] }), {
      enforce: true,
    });
    assert.equal(p.decide(who({ groups: ['g1'] })).rule, 'allow[0]');
    const d = p.decide(who({ groups: ['other'] }));
    assert.deepEqual(d, {
      outcome: 'allow',
      reason: 'policy_allowed',
      rule: 'allow[1]',
      dryRun: false,
      enforcedOutcome: 'allow',
    });
  });

  it('no matching rule denies with no_rule_matched', () => {
    const p = compilePolicy(policy({ allow: [{ roles: ['admin'] }] }), { enforce: true, mapper });
    const d = p.decide(who({ groups: ['Staff'] }));
    assert.deepEqual(d, {
      outcome: 'deny',
      reason: 'no_rule_matched',
      dryRun: false,
      enforcedOutcome: 'deny',
    });
  });

  it('says groups_overage when nothing matched and the IdP left the groups out; providers match by name', () => {
    const entra = createRoleMapper(
      { claims: [], map: { Admins: 'admin' } },
      claimsMapperPreset('entra', { clientIds: [] }),
    );
    const overage = identityFromClaims(
      { sub: 'u', _claim_names: { groups: 'src1' } },
      { authType: 'session', mapper: entra, expiresAt: 2_000_000_000, idp: 'entra-corp' },
    );
    const p = compilePolicy(policy({ allow: [{ roles: ['admin'] }, { providers: ['okta'] }] }), {
      enforce: true,
      mapper: entra,
    });
    assert.equal(p.decide(overage).reason, 'groups_overage');
    assert.equal(p.decide(overage).outcome, 'deny');
    assert.equal(
      p.decide(who({ groups: ['Staff'] })).reason,
      'no_rule_matched',
      'no overage, plain no-match',
    );
    const byProvider = compilePolicy(policy({ allow: [{ providers: ['entra-corp'] }] }), { enforce: true });
    assert.equal(byProvider.decide(overage).outcome, 'allow');
    assert.equal(byProvider.decide(who({})).outcome, 'deny', 'an identity without a provider name');
  });

  it('deny beats allow, whatever the order', () => {
    const p = compilePolicy(
      policy({ allow: [{ roles: ['admin'] }], deny: [{ groups: ['Contractors'] }, { groups: ['Admins'] }] }),
      { enforce: true, mapper },
    );
    const d = p.decide(who({ groups: ['Admins'] }));
    assert.deepEqual(d, {
      outcome: 'deny',
      reason: 'policy_denied',
      rule: 'deny[1]',
      dryRun: false,
      enforcedOutcome: 'deny',
    });
    assert.equal(p.decide(who({ groups: ['Ops'] })).outcome, 'allow');
  });

  it('a rule ANDs its conditions; list values are ORed; rules are ORed', () => {
    const p = compilePolicy(
      policy({
        allow: [
          { groups: ['a', 'b'], email_domains: ['example.com'] },
          { groups: ['c'], auth_types: ['bearer'] },
        ],
      }),
      { enforce: true },
    );
    const cases: [Record<string, unknown>, 'session' | 'bearer', string][] = [
      [{ groups: ['a'], email: 'x@example.com' }, 'session', 'allow'],
      [{ groups: ['b'], email: 'x@example.com' }, 'session', 'allow'],
      [{ groups: ['a'], email: 'x@other.com' }, 'session', 'deny'],
      [{ groups: ['z'], email: 'x@example.com' }, 'session', 'deny'],
      [{ groups: ['c'] }, 'bearer', 'allow'],
      [{ groups: ['c'] }, 'session', 'deny'],
    ];
    for (const [claims, authType, expected] of cases) {
      assert.equal(p.decide(who(claims, authType)).outcome, expected, JSON.stringify({ claims, authType }));
    }
  });

  it('dry run allows but keeps the real reason and outcome', () => {
    const p = compilePolicy(policy({ allow: [{ roles: ['admin'] }], deny: [{ groups: ['Banned'] }] }), {
      enforce: false,
      mapper,
    });
    assert.deepEqual(p.decide(who({ groups: ['Banned'] })), {
      outcome: 'allow',
      reason: 'policy_denied',
      rule: 'deny[0]',
      dryRun: true,
      enforcedOutcome: 'deny',
    });
    assert.deepEqual(p.decide(who({})), {
      outcome: 'allow',
      reason: 'no_rule_matched',
      dryRun: true,
      enforcedOutcome: 'deny',
    });
    assert.deepEqual(p.decide(undefined), {
      outcome: 'allow',
      reason: 'no_credentials',
      dryRun: true,
      enforcedOutcome: 'login',
    });
    assert.deepEqual(p.decide(who({ groups: ['Admins'] })), {
      outcome: 'allow',
      reason: 'policy_allowed',
      rule: 'allow[0]',
      dryRun: false,
      enforcedOutcome: 'allow',
    });
  });

  it('returns frozen decisions built at compile time', () => {
    const p = compilePolicy(policy({ allow: [{ authenticated: true }] }), { enforce: true });
    const a = p.decide(who({}));
    assert.ok(Object.isFrozen(a));
    assert.equal(p.decide(who({ groups: ['x'] })), a);
  });

  it('refuses roles no roles.map entry produces, naming the rule', () => {
    assert.throws(
      () => compilePolicy(policy({ allow: [{ roles: ['Admins'] }] }), { enforce: true, mapper }),
      {
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_VALUE',
        message: /^allow\[0\]\.roles: role "Admins" is produced by no roles\.map entry/,
      },
    );
    assert.throws(
      () =>
        compilePolicy(policy({ allow: [{ authenticated: true }], deny: [{ roles: ['typo'] }] }), {
          enforce: true,
          mapper,
        }),
      { message: /^deny\[0\]\.roles: role "typo"/ },
    );
  });

  it('refuses emails and domains that could never match', () => {
    for (const rule of [
      { emails: ['not-an-email'] },
      { email_domains: ['@example.com'] },
      { email_domains: ['*.example.com'] },
    ]) {
      assert.throws(() => compilePolicy(policy({ allow: [rule] }), { enforce: true }), {
        code: 'ERR_INVALID_ARG_VALUE',
        message: /^allow\[0\]\./,
      });
    }
  });

  it('a rule without conditions matches nothing (fail closed)', () => {
    // The schema forbids it; the engine must not treat it as "everyone".
    const p = compilePolicy({ allow: [{}], deny: [] }, { enforce: true });
    assert.equal(p.decide(who({})).outcome, 'deny');
  });
});
