import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IDENTITY_HEADERS } from '../../../src/identity/headers.ts';
import {
  createInboundStripper,
  normalizeHeaderName,
  OAUTH2_PROXY_HEADERS,
} from '../../../src/identity/strip-inbound.ts';

const strip = createInboundStripper({ assertionHeader: 'X-Gatehouse-Assertion' });

describe('normalizeHeaderName', () => {
  it('lower-cases and reads _ as -', () => {
    assert.equal(normalizeHeaderName('X_Auth-Request_USER'), 'x-auth-request-user');
    assert.equal(normalizeHeaderName('X.Auth.Request.User'), 'x-auth-request-user');
    assert.equal(normalizeHeaderName('content-type'), 'content-type');
  });
});

describe('createInboundStripper', () => {
  it('removes every spelling of the identity and assertion headers, keeps the rest', () => {
    const headers: IncomingHttpHeaders = {
      host: 'app.example.com',
      'X-Auth-Request-User': 'mallory',
      x_auth_request_user: 'mallory',
      'x.auth.request.email': 'mallory@example.com',
      'X-AUTH-REQUEST-EMAIL': 'ceo@example.com',
      'x-auth-request-groups': ['admin', 'ops'],
      'x-auth-request-roles': 'admin',
      'x-auth-request-preferred-username': 'root',
      'x-auth-request-access-token': 'forged',
      'x-gatehouse-assertion': 'eyJ.forged.sig',
      'x-gatehouse_assertion': 'eyJ.forged.sig',
      'x-forwarded-user': 'mallory',
      'gap-auth': 'mallory',
      'x-forwarded-for': '203.0.113.9',
      'x-auth-request-redirect': '/next',
      'x-auth-request-user-agent': 'not an identity header',
      cookie: 'a=1',
    };
    strip(headers);
    assert.deepEqual(headers, {
      host: 'app.example.com',
      'x-forwarded-for': '203.0.113.9',
      'x-auth-request-redirect': '/next',
      'x-auth-request-user-agent': 'not an identity header',
      cookie: 'a=1',
    });
  });

  it('uses the configured assertion header name and extra names', () => {
    const custom = createInboundStripper({ assertionHeader: 'X-Identity', extraHeaders: ['Remote-User'] });
    const headers: IncomingHttpHeaders = {
      'x-identity': 'a',
      x_identity: 'b',
      remote_user: 'c',
      'x-gatehouse-x': 'd',
    };
    custom(headers);
    assert.deepEqual(headers, { 'x-gatehouse-x': 'd' });
  });

  it('refuses an invalid header name', () => {
    assert.throws(() => createInboundStripper({ assertionHeader: 'X Bad' }), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: '"X Bad" is not a valid header name',
    });
  });

  it('removes any case/underscore variant of a stripped name (property)', () => {
    const stripped = [...IDENTITY_HEADERS, ...OAUTH2_PROXY_HEADERS, 'x-gatehouse-assertion'];
    const variant = fc
      .tuple(
        fc.constantFrom(...stripped),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
      )
      .map(([name, upper, underscore]) =>
        [...name]
          .map((c, i) => {
            const ch = c === '-' && underscore[i] ? '_' : c;
            return upper[i] ? ch.toUpperCase() : ch;
          })
          .join(''),
      );
    const innocent = fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/).filter((n) => !stripped.includes(n));
    fc.assert(
      fc.property(fc.uniqueArray(variant, { minLength: 1, maxLength: 8 }), innocent, (names, other) => {
        const headers: IncomingHttpHeaders = { [other]: 'keep' };
        for (const name of names) headers[name] = 'forged';
        strip(headers);
        assert.deepEqual(headers, { [other]: 'keep' });
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});
