/**
 * The rule keys about who the caller is and where it calls from: `clients`, `scopes`,
 * `source_ips`, and `auth_types` with `dpop`/`mtls`; and how a policy reports a token that
 * lacks only scopes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policySchema, ruleSchema } from '../../../src/config/schema.ts';
import type { Identity } from '../../../src/identity/identity.ts';
import { compilePolicy } from '../../../src/policy/compile-policy.ts';
import { compileAuthTypes } from '../../../src/policy/criteria/auth-types.ts';
import { compileClients } from '../../../src/policy/criteria/clients.ts';
import { compileScopes } from '../../../src/policy/criteria/scopes.ts';
import { compileSourceIps } from '../../../src/policy/criteria/source-ips.ts';
import { grantedScopes } from '../../../src/policy/granted-scopes.ts';
import { identityFromClaims } from '../../../src/policy/identity-from-claims.ts';
import { createRoleMapper } from '../../../src/policy/roles.ts';

const mapper = createRoleMapper({ claims: ['groups'], map: {} });

function who(
  claims: Record<string, unknown>,
  authType: 'session' | 'bearer' = 'bearer',
  binding?: 'dpop' | 'mtls',
): Identity {
  const id = identityFromClaims({ sub: 'm', ...claims }, { authType, mapper, expiresAt: 2_000_000_000 });
  // Nothing sets `binding` yet but the DPoP / mTLS verification: built directly here.
  return binding === undefined ? id : Object.freeze({ ...id, binding });
}
const from = (clientIp: string) => ({ clientIp });

describe('clients', () => {
  it('matches client_id, else azp; exact and case-sensitive', () => {
    const c = compileClients(['billing', 'ci-bot']);
    assert.equal(c(who({ client_id: 'billing' })), true);
    assert.equal(c(who({ azp: 'ci-bot' })), true);
    assert.equal(c(who({ client_id: 'Billing' })), false);
    assert.equal(c(who({ client_id: 'billing-2' })), false);
    assert.equal(c(who({})), false, 'no client id matches nothing');
    assert.equal(c(who({ client_id: ['billing'] })), false, 'a list is not a client id');
  });
});

describe('scopes', () => {
  it('reads scope (string), scp (string or array), and unites them', () => {
    assert.deepEqual([...grantedScopes({ scope: 'a  b c' })], ['a', 'b', 'c']);
    assert.deepEqual([...grantedScopes({ scp: 'x y' })], ['x', 'y']);
    assert.deepEqual([...grantedScopes({ scp: ['x', 7, 'y', ''] })], ['x', 'y']);
    assert.deepEqual([...grantedScopes({ scope: 'a', scp: ['b'] })], ['a', 'b']);
    assert.deepEqual([...grantedScopes({ scope: { a: 1 } })], []);
    assert.deepEqual([...grantedScopes(JSON.parse('{"__proto__": {"scope": "admin"}}'))], []);
  });

  it('bounds a hostile scope claim', () => {
    const huge = Array.from({ length: 5000 }, (_, i) => `s${i}`).join(' ');
    assert.equal(grantedScopes({ scope: huge }).size, 1000);
    assert.equal(grantedScopes({ scope: 'x'.repeat(300) }).size, 0, 'an overlong scope is skipped');
  });

  it('requires every listed scope (all of, unlike roles and groups)', () => {
    const c = compileScopes(['orders:read', 'orders:write']);
    assert.equal(c(who({ scope: 'orders:read orders:write openid' })), true);
    assert.equal(c(who({ scp: ['orders:write', 'orders:read'] })), true);
    assert.equal(c(who({ scope: 'orders:read' })), false);
    assert.equal(c(who({ scope: 'orders:read orders:writer' })), false, 'never a prefix');
    assert.equal(c(who({ scope: 'ORDERS:READ ORDERS:WRITE' })), false, 'case-sensitive');
    assert.equal(c(who({})), false);
  });

  it('the schema refuses a scope that could not be named in WWW-Authenticate', () => {
    for (const bad of ['a b', 'a"b', 'a\\b', '', 'é']) {
      assert.equal(ruleSchema.safeParse({ scopes: [bad] }).success, false, JSON.stringify(bad));
    }
    assert.equal(ruleSchema.safeParse({ scopes: [] }).success, false);
    assert.equal(ruleSchema.safeParse({ scopes: ['api://orders/Orders.Read', 'a:b'] }).success, true);
  });
});

describe('source_ips', () => {
  const c = compileSourceIps(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::ffff:198.51.100.0/120']);

  it('matches IPv4, IPv6 and IPv4-mapped IPv6 on either side', () => {
    assert.equal(c(who({}), from('10.200.0.1')), true);
    assert.equal(c(who({}), from('11.0.0.1')), false);
    assert.equal(c(who({}), from('192.0.2.7')), true);
    assert.equal(c(who({}), from('192.0.2.8')), false);
    assert.equal(c(who({}), from('2001:db8:1::5')), true);
    assert.equal(c(who({}), from('2001:db9::1')), false);
    assert.equal(c(who({}), from('::ffff:10.1.2.3')), true, 'a dual-stack view of an IPv4 peer');
    assert.equal(c(who({}), from('198.51.100.9')), true, 'a mapped block covers plain IPv4');
    assert.equal(c(who({}), from('198.51.101.9')), false);
  });

  it('an unknown or malformed address is in no block', () => {
    for (const ip of ['', 'unix', 'not-an-ip', '10.0.0.1/8', 'fe80::1%eth0']) {
      assert.equal(c(who({}), from(ip)), false, ip);
    }
    assert.equal(c(who({})), false, 'no request at all');
  });

  it('refuses what is no address or block, at load', () => {
    for (const bad of [
      '10.0.0.0/33',
      'unix',
      '10.0.0',
      '2001:db8::/129',
      '10.0.0.0/x',
      '::ffff:10.0.0.0/64',
    ]) {
      assert.throws(() => compileSourceIps([bad]), { code: 'ERR_INVALID_ARG_VALUE' }, bad);
      assert.equal(ruleSchema.safeParse({ source_ips: [bad] }).success, false, bad);
    }
  });
});

describe('auth_types', () => {
  it('bearer is any bearer token; dpop and mtls only a token whose key was proven', () => {
    const plain = who({});
    const dpop = who({}, 'bearer', 'dpop');
    const mtls = who({}, 'bearer', 'mtls');
    const session = who({}, 'session');
    const table: [string[], boolean[]][] = [
      // [rule],          [session, plain, dpop, mtls]
      [['session'], [true, false, false, false]],
      [['bearer'], [false, true, true, true]],
      [['dpop'], [false, false, true, false]],
      [['mtls'], [false, false, false, true]],
      [
        ['dpop', 'mtls'],
        [false, false, true, true],
      ],
      [
        ['session', 'dpop'],
        [true, false, true, false],
      ],
    ];
    for (const [types, expected] of table) {
      const c = compileAuthTypes(types as never);
      assert.deepEqual(
        [session, plain, dpop, mtls].map((id) => c(id)),
        expected,
        types.join(','),
      );
    }
  });

  it('a route lists credential kinds only; a rule may name dpop and mtls', () => {
    assert.equal(ruleSchema.safeParse({ auth_types: ['dpop', 'mtls'] }).success, true);
    assert.equal(ruleSchema.safeParse({ auth_types: ['jwt'] }).success, false);
  });
});

describe('a policy with scopes', () => {
  const p = compilePolicy(
    policySchema.parse({
      allow: [
        { clients: ['billing'], scopes: ['orders:read', 'orders:write'] },
        { scopes: ['orders:admin'], source_ips: ['10.0.0.0/8'] },
      ],
      deny: [{ source_ips: ['10.66.0.0/16'] }],
    }),
    { enforce: true },
  );

  it('allows with every scope, and names the rule', () => {
    const d = p.decide(who({ client_id: 'billing', scope: 'orders:write orders:read' }), from('1.2.3.4'));
    assert.equal(d.outcome, 'allow');
    assert.equal(d.rule, 'allow[0]');
  });

  it('a token that lacks only scopes is denied as insufficient_scope, naming what it needs', () => {
    const d = p.decide(who({ client_id: 'billing', scope: 'orders:read' }), from('1.2.3.4'));
    assert.deepEqual(d, {
      outcome: 'deny',
      reason: 'insufficient_scope',
      rule: 'allow[0]',
      dryRun: false,
      enforcedOutcome: 'deny',
      requiredScope: 'orders:read orders:write',
    });
    const second = p.decide(who({ client_id: 'other' }), from('10.1.1.1'));
    assert.equal(second.reason, 'insufficient_scope');
    assert.equal(second.requiredScope, 'orders:admin');
  });

  it('a token that fails on more than scopes is a plain no_rule_matched', () => {
    const d = p.decide(who({ client_id: 'other', scope: 'orders:read' }), from('1.2.3.4'));
    assert.equal(d.reason, 'no_rule_matched');
    assert.equal(d.requiredScope, undefined);
  });

  it('deny rules see the client address; without one, an address rule matches nothing', () => {
    const id = who({ scope: 'orders:admin' });
    assert.equal(p.decide(id, from('10.66.1.1')).reason, 'policy_denied');
    assert.equal(p.decide(id, from('10.1.1.1')).outcome, 'allow');
    assert.equal(p.decide(id).reason, 'no_rule_matched', 'address unknown: allow[1] cannot match');
  });

  it('traces each rule key by key', () => {
    assert.deepEqual(p.trace?.(who({ client_id: 'billing', scope: 'orders:read' }), from('10.66.0.1')), [
      { rule: 'deny[0]', matched: true, checks: [{ key: 'source_ips', matched: true }] },
      {
        rule: 'allow[0]',
        matched: false,
        checks: [
          { key: 'clients', matched: true },
          { key: 'scopes', matched: false },
        ],
      },
      {
        rule: 'allow[1]',
        matched: false,
        checks: [
          { key: 'source_ips', matched: true },
          { key: 'scopes', matched: false },
        ],
      },
    ]);
    assert.deepEqual(p.trace?.(undefined), []);
  });
});
