import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityFromClaims, isWellFormedEmail } from '../../../src/policy/identity-from-claims.ts';
import { createRoleMapper } from '../../../src/policy/roles.ts';

const mapper = createRoleMapper({ claims: ['groups'], map: { 'Okta-Admins': 'admin' } });
const opts = { authType: 'session' as const, mapper, expiresAt: 1_900_000_000 };

describe('identityFromClaims', () => {
  it('builds a frozen identity from standard claims', () => {
    const claims = {
      iss: 'https://idp.example.com',
      sub: 'u1',
      email: 'Ann@Example.com',
      email_verified: true,
      preferred_username: 'ann',
      name: 'Ann Example',
      groups: ['Okta-Admins', 'Staff'],
      azp: 'web',
      sid: 's-1',
    };
    const id = identityFromClaims(claims, opts);
    assert.equal(id.iss, 'https://idp.example.com');
    assert.equal(id.sub, 'u1');
    assert.equal(id.email, 'Ann@Example.com');
    assert.equal(id.preferredUsername, 'ann');
    assert.equal(id.name, 'Ann Example');
    assert.deepEqual(id.groups, ['Okta-Admins', 'Staff']);
    assert.deepEqual(id.roles, ['admin']);
    assert.equal(id.clientId, 'web');
    assert.equal(id.sid, 's-1');
    assert.equal(id.authType, 'session');
    assert.equal(id.expiresAt, 1_900_000_000);
    assert.ok(Object.isFrozen(id) && Object.isFrozen(id.groups) && Object.isFrozen(id.roles));
    assert.ok(Object.isFrozen(id.claims));
    assert.ok(!Object.isFrozen(claims), 'the caller object is left alone');
  });

  it('prefers the verified issuer and client_id', () => {
    const id = identityFromClaims(
      { sub: 'u', iss: 'https://other', client_id: 'cli', azp: 'web' },
      { ...opts, iss: 'https://idp' },
    );
    assert.equal(id.iss, 'https://idp');
    assert.equal(id.clientId, 'cli');
  });

  it('falls back to username and cognito:username', () => {
    assert.equal(identityFromClaims({ sub: 'u', username: 'bob' }, opts).preferredUsername, 'bob');
    assert.equal(identityFromClaims({ sub: 'u', 'cognito:username': 'cog' }, opts).preferredUsername, 'cog');
  });

  it('requires a string sub', () => {
    for (const sub of [undefined, '', 42, ['u'], 'x'.repeat(300)]) {
      assert.throws(() => identityFromClaims({ sub }, opts), {
        name: 'GatehouseError',
        code: 'missing_claim',
      });
    }
  });

  it('drops non-string, oversized and control-character text claims', () => {
    const id = identityFromClaims(
      { sub: 'u', name: 'a\r\nX-Injected: 1', preferred_username: 42, sid: 'x'.repeat(300), azp: ['web'] },
      opts,
    );
    assert.equal(id.name, undefined);
    assert.equal(id.preferredUsername, undefined);
    assert.equal(id.sid, undefined);
    assert.equal(id.clientId, undefined);
  });

  it('does not let __proto__ claims change the prototype', () => {
    const claims = JSON.parse('{"sub":"u","__proto__":{"email":"x@example.com","roles":["admin"]}}');
    const id = identityFromClaims(claims, opts);
    assert.equal(id.email, undefined);
    assert.deepEqual(id.roles, []);
    assert.equal(Object.getPrototypeOf(id.claims), Object.prototype);
    assert.ok(Object.hasOwn(id.claims, '__proto__'));
  });

  it('does not trust an email the IdP marks unverified', () => {
    assert.equal(
      identityFromClaims({ sub: 'u', email: 'a@example.com', email_verified: false }, opts).email,
      undefined,
    );
    assert.equal(
      identityFromClaims({ sub: 'u', email: 'a@example.com', email_verified: 'false' }, opts).email,
      undefined,
    );
    assert.equal(identityFromClaims({ sub: 'u', email: 'a@example.com' }, opts).email, 'a@example.com');
    assert.equal(
      identityFromClaims({ sub: 'u', email: 'a@example.com', email_verified: 'true' }, opts).email,
      'a@example.com',
    );
  });

  it('does not trust malformed or non-string emails', () => {
    for (const email of ['a@b@example.com', ['a@example.com'], 42, 'a@example.com\n', null]) {
      assert.equal(identityFromClaims({ sub: 'u', email }, opts).email, undefined, String(email));
    }
  });
});

describe('isWellFormedEmail', () => {
  it('accepts plain addresses', () => {
    for (const ok of [
      'a@example.com',
      'first.last+tag@sub.example.co.uk',
      "o'brien@example.org",
      'A_B-c@x-y.io',
    ]) {
      assert.equal(isWellFormedEmail(ok), true, ok);
    }
  });

  it('rejects everything else', () => {
    const bad = [
      '',
      'plain',
      '@example.com',
      'a@',
      'a@@example.com',
      'a@b@example.com',
      'a@localhost',
      'a b@example.com',
      'a@exa mple.com',
      'a\t@example.com',
      'a@example.com\u0000',
      'a\u0007@example.com',
      '"a"@example.com',
      'a"b@example.com',
      '<a@example.com>',
      'a@example.com, b@example.com',
      '.a@example.com',
      'a.@example.com',
      'a..b@example.com',
      'a@.example.com',
      'a@example..com',
      'a@-example.com',
      'a@example.com.',
      'a@[127.0.0.1]',
      'a@127.0.0.1',
      'ä@example.com',
      'a@exämple.com',
      `${'a'.repeat(65)}@example.com`,
      `a@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(60)}.com`,
    ];
    for (const value of bad) assert.equal(isWellFormedEmail(value), false, JSON.stringify(value));
  });
});
