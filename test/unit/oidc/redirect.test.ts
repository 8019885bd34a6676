import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isAllowedHost, safeRedirect } from '../../../src/oidc/redirect.ts';

const ORIGIN = new URL('https://app.example.com');
const ALLOWED = ['docs.example.com', '.corp.example.com', 'ops.example.net:8443'];

describe('safeRedirect', () => {
  const accepted: Array<[string, string]> = [
    ['/', '/'],
    ['/app', '/app'],
    ['/app/page?x=1#frag', '/app/page?x=1#frag'],
    ['/a/../b', '/b'],
    ['/search?q=https%3A%2F%2Fexample.org', '/search?q=https%3A%2F%2Fexample.org'],
    ['https://app.example.com/x', 'https://app.example.com/x'],
    ['https://APP.example.com/x', 'https://app.example.com/x'],
    ['https://docs.example.com/guide', 'https://docs.example.com/guide'],
    ['https://a.corp.example.com/', 'https://a.corp.example.com/'],
    ['https://a.b.corp.example.com/x', 'https://a.b.corp.example.com/x'],
    ['https://ops.example.net:8443/', 'https://ops.example.net:8443/'],
  ];
  for (const [input, expected] of accepted) {
    it(`accepts ${JSON.stringify(input)}`, () => {
      assert.equal(safeRedirect(input, ORIGIN, ALLOWED), expected);
    });
  }

  const refused = [
    '',
    '//evil.com',
    '//evil.com/path',
    '///evil.com',
    '/\\evil.com',
    '\\\\evil.com',
    '\\/evil.com',
    'https:evil.com',
    'https:/evil.com',
    'http://app.example.com/x', // downgrade to http on an https origin
    'http://docs.example.com/', // http to an allowed host from an https origin
    '%2F%2Fevil.com',
    '/%2F%2Fevil.com',
    '/%2f/evil.com',
    '/%5Cevil.com',
    '/%09/evil.com',
    '/\t/evil.com',
    '/\r\n/evil.com',
    '/ok\nLocation: https://evil.com',
    '/\u0000',
    '/caf\u00e9',
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'https://app.example.com@evil.com',
    'https://user:pass@app.example.com/',
    'https://evil.com',
    'https://evil.com/https://app.example.com',
    'https://docs.example.com.evil.com/',
    'https://corp.example.com/', // the apex is not a subdomain of itself
    'https://xcorp.example.com/',
    'https://ops.example.net/', // entry names a port
    'https://app.example.com:8443/', // another origin on our host
    'evil.com',
    'app',
    '%zz',
    `/${'a'.repeat(3000)}`,
    ' /app',
    '/app ',
  ];
  for (const input of refused) {
    it(`refuses ${JSON.stringify(input)}`, () => {
      assert.equal(safeRedirect(input, ORIGIN, ALLOWED), undefined);
    });
  }

  it('refuses null and undefined', () => {
    assert.equal(safeRedirect(undefined, ORIGIN, ALLOWED), undefined);
    assert.equal(safeRedirect(null, ORIGIN, ALLOWED), undefined);
  });

  it('allows http targets when the public origin is http', () => {
    const origin = new URL('http://127.0.0.1:8080');
    assert.equal(safeRedirect('http://127.0.0.1:8080/x', origin, []), 'http://127.0.0.1:8080/x');
    assert.equal(safeRedirect('http://docs.example.com/', origin, ALLOWED), 'http://docs.example.com/');
  });

  it('accepts *.domain entries like .domain', () => {
    assert.equal(isAllowedHost(new URL('https://a.example.org'), ['*.example.org']), true);
    assert.equal(isAllowedHost(new URL('https://example.org'), ['*.example.org']), false);
  });

  it('never yields a target off the public origin or the allowed domains (property)', () => {
    const pieces = fc.constantFrom(
      '/',
      '//',
      '\\',
      '%2F',
      '%2f',
      '%5C',
      '%09',
      '%0a',
      '%25',
      '\t',
      '\n',
      '@',
      ':',
      '.',
      '..',
      '?',
      '#',
      'https:',
      'http:',
      'javascript:',
      'evil.com',
      'app.example.com',
      'docs.example.com',
      'corp.example.com',
      '.corp.example.com',
      ':8443',
      'ops.example.net',
      'x',
    );
    const input = fc.oneof(
      fc.array(pieces, { maxLength: 8 }).map((parts) => parts.join('')),
      fc.string({ maxLength: 40 }),
      fc.webUrl().map(String),
    );
    fc.assert(
      fc.property(input, (rd) => {
        const out = safeRedirect(rd, ORIGIN, ALLOWED);
        if (out === undefined) return true;
        const url = new URL(out, ORIGIN);
        if (url.username || url.password) return false;
        if (out.startsWith('/') && out.startsWith('//')) return false;
        return url.origin === ORIGIN.origin || (url.protocol === 'https:' && isAllowedHost(url, ALLOWED));
      }),
      { seed: 3, numRuns: 1000 },
    );
  });
});
