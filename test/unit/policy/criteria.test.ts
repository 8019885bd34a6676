import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../../../src/identity/identity.ts';
import { compileAuthTypes } from '../../../src/policy/criteria/auth-types.ts';
import { compileAuthenticated } from '../../../src/policy/criteria/authenticated.ts';
import { compileClaims } from '../../../src/policy/criteria/claims.ts';
import { compileEmailDomains } from '../../../src/policy/criteria/email-domains.ts';
import { compileEmails } from '../../../src/policy/criteria/emails.ts';
import { compileGroups } from '../../../src/policy/criteria/groups.ts';
import { compileRoles } from '../../../src/policy/criteria/roles.ts';
import { identityFromClaims } from '../../../src/policy/identity-from-claims.ts';
import { createRoleMapper } from '../../../src/policy/roles.ts';

const mapper = createRoleMapper({ claims: ['groups'], map: { Admins: 'admin', Readers: 'reader' } });

function who(claims: Record<string, unknown>, authType: 'session' | 'bearer' = 'session'): Identity {
  return identityFromClaims({ sub: 'u', ...claims }, { authType, mapper, expiresAt: 2_000_000_000 });
}

describe('criteria', () => {
  it('authenticated matches any identity', () => {
    assert.equal(compileAuthenticated()(who({})), true);
  });

  it('roles: any listed role, exact and case-sensitive', () => {
    const c = compileRoles(['admin', 'auditor']);
    assert.equal(c(who({ groups: ['Admins'] })), true);
    assert.equal(c(who({ groups: ['Readers'] })), false);
    assert.equal(c(who({ groups: ['admin'] })), false, 'a raw group is not a role');
    const upper = compileRoles(['Admin']);
    assert.equal(upper(who({ groups: ['Admins'] })), false);
  });

  it('roles: refuses unknown roles only when known roles are given', () => {
    assert.throws(() => compileRoles(['ghost'], mapper.knownRoles), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.doesNotThrow(() => compileRoles(['reader'], mapper.knownRoles));
    assert.doesNotThrow(() => compileRoles(['ghost']));
  });

  it('groups: exact, never a substring or prefix', () => {
    const c = compileGroups(['admin']);
    assert.equal(c(who({ groups: ['admin'] })), true);
    assert.equal(c(who({ groups: ['x', 'admin'] })), true);
    for (const g of ['admins', 'Admin', 'sysadmin', 'admin ', 'admin,ops']) {
      assert.equal(c(who({ groups: [g] })), false, g);
    }
    assert.equal(c(who({ groups: 'admin' })), true, 'a string claim is one group');
    assert.equal(c(who({ groups: 'admins' })), false);
  });

  it('emails: exact, case-insensitive, only trusted emails', () => {
    const c = compileEmails(['Ann@Example.com']);
    assert.equal(c(who({ email: 'ann@example.com' })), true);
    assert.equal(c(who({ email: 'ANN@EXAMPLE.COM' })), true);
    assert.equal(c(who({ email: 'ann@example.com', email_verified: false })), false);
    assert.equal(c(who({ email: 'xann@example.com' })), false);
    assert.equal(c(who({ email: 'ann@example.com.evil.io' })), false);
    assert.equal(c(who({ email: 'ann@example.com@evil.io' })), false);
    assert.equal(c(who({})), false);
  });

  it('email_domains: exact domain after the last @, case-insensitive', () => {
    const c = compileEmailDomains(['example.com']);
    assert.equal(c(who({ email: 'a@example.com' })), true);
    assert.equal(c(who({ email: 'a@EXAMPLE.COM' })), true);
    for (const email of [
      'a@evil-example.com',
      'a@a.example.com',
      'a@example.com.evil.io',
      'a@example.co',
      'example.com@evil.io',
      'a@example.com@evil.io',
      'a@evil.io?@example.com',
    ]) {
      assert.equal(c(who({ email })), false, email);
    }
    assert.equal(c(who({ email: 'a@example.com', email_verified: false })), false);
    assert.equal(c(who({})), false);
  });

  it('claims: value or any array element equals an accepted value, type-strict', () => {
    const c = compileClaims({ tier: [1, 'gold'], 'org.active': [true] });
    const org = { active: true };
    assert.equal(c(who({ tier: 1, org })), true);
    assert.equal(c(who({ tier: 'gold', org })), true);
    assert.equal(c(who({ tier: ['silver', 'gold'], org })), true);
    assert.equal(c(who({ tier: '1', org })), false, 'string "1" is not number 1');
    assert.equal(c(who({ tier: 'Gold', org })), false);
    assert.equal(c(who({ tier: 1, org: { active: 'true' } })), false, '"true" is not true');
    assert.equal(c(who({ tier: 1, org: { active: 1 } })), false, '1 is not true');
    assert.equal(c(who({ tier: 1 })), false, 'every path must match');
    assert.equal(c(who({ tier: [[1]], org })), false, 'nested arrays are not flattened');
    assert.equal(c(who({ tier: { 0: 1 }, org })), false);
    assert.equal(c(who({ tier: null, org })), false);
  });

  it('claims: paths never reach the prototype', () => {
    const c = compileClaims({ 'constructor.name': ['Object'] });
    assert.equal(c(who({})), false);
    const proto = compileClaims({ '__proto__.admin': [true] });
    assert.equal(proto(who(JSON.parse('{"__proto__":{"admin":true}}'))), false);
  });

  it('claims: a huge array is searched only up to the bound', () => {
    const c = compileClaims({ tags: ['needle'] });
    const tags = Array.from({ length: 5000 }, (_, i) => `t${i}`);
    tags.push('needle');
    assert.equal(c(who({ tags })), false);
    assert.equal(c(who({ tags: ['needle', ...tags] })), true);
  });

  it('auth_types: matches how the identity authenticated', () => {
    const c = compileAuthTypes(['bearer']);
    assert.equal(c(who({}, 'bearer')), true);
    assert.equal(c(who({}, 'session')), false);
  });
});
