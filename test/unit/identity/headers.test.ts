import assert from 'node:assert/strict';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { describe, it } from 'node:test';
import { IDENTITY_HEADERS, identityHeaders, sanitizeHeaderValue } from '../../../src/identity/headers.ts';
import type { Identity } from '../../../src/identity/identity.ts';

function identity(over: Partial<Identity> = {}): Identity {
  return {
    iss: 'https://idp.example.com',
    sub: 'user-1',
    email: 'ada@example.com',
    preferredUsername: 'ada',
    groups: ['eng', 'ops'],
    roles: ['admin'],
    claims: {},
    authType: 'session',
    expiresAt: 2_000_000_000,
    ...over,
  };
}

describe('identityHeaders', () => {
  it('maps the identity to lower-case X-Auth-Request-* headers', () => {
    assert.deepEqual(identityHeaders(identity()), {
      'x-auth-request-user': 'user-1',
      'x-auth-request-email': 'ada@example.com',
      'x-auth-request-preferred-username': 'ada',
      'x-auth-request-roles': 'admin',
      'x-auth-request-groups': 'eng,ops',
    });
  });

  it('every name it can set is listed in IDENTITY_HEADERS', () => {
    const all = identityHeaders(identity(), { accessToken: 'eyJ.a.b' });
    assert.deepEqual(Object.keys(all).sort(), [...IDENTITY_HEADERS].sort());
  });

  it('leaves out absent values and empty lists', () => {
    const h = identityHeaders(
      identity({ email: undefined, preferredUsername: undefined, groups: [], roles: [] }),
    );
    assert.deepEqual(h, { 'x-auth-request-user': 'user-1' });
  });

  it('drops a group whose name contains CR/LF instead of injecting a header', () => {
    const h = identityHeaders(identity({ groups: ['eng', 'x\r\nX-Auth-Request-Roles: admin', 'ops'] }));
    assert.equal(h['x-auth-request-groups'], 'eng,ops');
    for (const value of Object.values(h)) assert.doesNotMatch(value, /[\r\n]/);
  });

  it('drops values with NUL, TAB, DEL or C1 control characters', () => {
    const groups = ['a\0b', 'a\tb', 'a\x7fb', 'a\u0085b', 'ok'];
    assert.equal(identityHeaders(identity({ groups }))['x-auth-request-groups'], 'ok');
    const h = identityHeaders(identity({ email: 'ada@example.com\r\n', preferredUsername: 'a\nb' }));
    assert.equal(h['x-auth-request-email'], undefined);
    assert.equal(h['x-auth-request-preferred-username'], undefined);
  });

  it('drops a group containing a comma: "eng,admin" must not read as the group "admin"', () => {
    const h = identityHeaders(identity({ groups: ['eng,admin', 'ops'], roles: ['a,b'] }));
    assert.equal(h['x-auth-request-groups'], 'ops');
    assert.equal(h['x-auth-request-roles'], undefined);
  });

  it('drops values with leading or trailing spaces, which parsers would trim into another name', () => {
    assert.equal(
      identityHeaders(identity({ groups: [' admin', 'admin ', 'a b'] }))['x-auth-request-groups'],
      'a b',
    );
  });

  it('sends non-ASCII text as its UTF-8 bytes', () => {
    const h = identityHeaders(identity({ preferredUsername: 'José', groups: ['日本'] }));
    assert.equal(Buffer.from(h['x-auth-request-preferred-username']!, 'latin1').toString('utf8'), 'José');
    assert.equal(Buffer.from(h['x-auth-request-groups']!, 'latin1').toString('utf8'), '日本');
    assert.equal(sanitizeHeaderValue('\ud800'), undefined, 'a lone surrogate has no UTF-8 form');
  });

  it('never produces a value node would refuse as a header', () => {
    const nasty = ['\r', '\n', '\0', '\u2028', '\ud83d\ude00', '\u00ff', '\u0100', '\x1b[31m', 'é\r'];
    const h = identityHeaders(identity({ groups: nasty, roles: nasty, sub: '\u00e9\u0301' }), {
      accessToken: 'a b',
    });
    assert.ok(Object.keys(h).length >= 1);
    for (const [name, value] of Object.entries(h)) {
      validateHeaderName(name);
      validateHeaderValue(name, value);
      assert.match(value, /^[\x21-\x7e\x80-\xff](?:[\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$/);
    }
    assert.equal(h['x-auth-request-access-token'], undefined, 'a token with a space is refused');
  });

  it('adds the access token only when given and well-formed', () => {
    assert.equal(identityHeaders(identity())['x-auth-request-access-token'], undefined);
    assert.equal(
      identityHeaders(identity(), { accessToken: 'eyJ.a.b' })['x-auth-request-access-token'],
      'eyJ.a.b',
    );
    assert.equal(
      identityHeaders(identity(), { accessToken: 'x\r\ny' })['x-auth-request-access-token'],
      undefined,
    );
  });

  it('caps the total size, leaving out whole lists rather than truncating them', () => {
    const groups = Array.from({ length: 800 }, (_, i) => `group-with-a-long-name-${i}`);
    const h = identityHeaders(identity({ groups }), { accessToken: 't'.repeat(100) });
    assert.equal(h['x-auth-request-groups'], undefined);
    assert.equal(h['x-auth-request-user'], 'user-1');
    assert.equal(h['x-auth-request-roles'], 'admin');
    assert.equal(h['x-auth-request-access-token'], 't'.repeat(100));
    const bytes = Object.entries(h).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    assert.ok(bytes <= 16_384);
    const capped = identityHeaders(identity({ groups: groups.slice(0, 400) }), { maxBytes: 8192 });
    assert.equal(capped['x-auth-request-groups'], undefined);
    const small = identityHeaders(identity(), { maxBytes: 40 });
    assert.deepEqual(Object.keys(small), ['x-auth-request-user']);
  });
});
