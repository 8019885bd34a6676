import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../../../src/identity/identity.ts';
import { meetsAuthQuery } from '../../../src/pipeline/auth-query.ts';

const bob: Identity = {
  iss: 'https://idp.example',
  sub: 'bob',
  email: 'Bob@Example.com',
  groups: ['eng'],
  roles: [],
  claims: {},
  authType: 'session',
  expiresAt: 0,
};

describe("oauth2-proxy's /auth query restrictions", () => {
  it('is undefined when none is given (the route policy alone decides)', () => {
    assert.equal(meetsAuthQuery('', bob), undefined);
    assert.equal(meetsAuthQuery('?route=app', bob), undefined);
  });
  it('allowed_groups: any listed group, comma-separated or repeated', () => {
    assert.equal(meetsAuthQuery('?allowed_groups=admins', bob), false);
    assert.equal(meetsAuthQuery('?allowed_groups=admins,eng', bob), true);
    assert.equal(meetsAuthQuery('?allowed_groups=admins&allowed_groups=eng', bob), true);
    assert.equal(meetsAuthQuery('?allowed_groups=', bob), false, 'present but empty matches nobody');
  });
  it('allowed_emails and allowed_email_domains compare case-insensitively; every parameter must match', () => {
    assert.equal(meetsAuthQuery('?allowed_emails=bob@example.com', bob), true);
    assert.equal(meetsAuthQuery('?allowed_email_domains=example.com', bob), true);
    assert.equal(meetsAuthQuery('?allowed_email_domains=ample.com', bob), false);
    assert.equal(meetsAuthQuery('?allowed_email_domains=example.com&allowed_groups=admins', bob), false);
  });
  it('denies a request without an identity', () => {
    assert.equal(meetsAuthQuery('?allowed_groups=eng', undefined), false);
  });
});
