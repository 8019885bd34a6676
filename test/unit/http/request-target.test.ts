import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GatehouseError } from '../../../src/errors.ts';
import { MAX_TARGET_LENGTH, parseRequestTarget } from '../../../src/http/request-target.ts';

const accepted: [raw: string, path: string, search?: string][] = [
  ['/', '/'],
  ['/admin', '/admin'],
  ['/admin/', '/admin/'],
  ['/admin/../public', '/public'],
  ['/admin/./x', '/admin/x'],
  ['/a/b/..', '/a/'],
  ['/a/b/.', '/a/b/'],
  ['/a/..', '/'],
  ['/public/%2e%2e/admin', '/admin'],
  ['/public/%2E%2e/admin', '/admin'],
  ['/public/.%2e/admin', '/admin'],
  ['/%61dmin', '/admin'],
  ['/%7Euser/%2D%5F', '/~user/-_'],
  ['//admin', '/admin'],
  ['///admin//x///', '/admin/x/'],
  ['/a//../b', '/b'],
  ['/Admin', '/Admin'],
  ['/.well-known/openid-configuration', '/.well-known/openid-configuration'],
  ['/a/.b/..c/...', '/a/.b/..c/...'],
  ['/a//', '/a/'],
  ['/a/.', '/a/'],
  ['/caf%c3%a9', '/caf%C3%A9'],
  ['/%e2%80%ae', '/%E2%80%AE'],
  ['/100%25', '/100%25'],
  ['/%252e%252e/admin', '/%252e%252e/admin'],
  ['/a%3Bb', '/a%3Bb'],
  ['/a%3fb', '/a%3Fb'],
  ['/a{b}|c^d`e"f<g>[h]', '/a%7Bb%7D%7Cc%5Ed%60e%22f%3Cg%3E%5Bh%5D'],
  ["/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="],
  ['/p?x=1&y=%2F', '/p', '?x=1&y=%2F'],
  ['/p?', '/p', '?'],
  ['/p?a="b"&c=<d>\'', '/p', '?a=%22b%22&c=%3Cd%3E%27'],
  ['/p?q=../admin;x', '/p', '?q=../admin;x'],
  ['/p#frag', '/p', ''],
  ['/p?q=1#frag?x', '/p', '?q=1'],
];

const refused: [raw: string | undefined, why: string][] = [
  [undefined, 'missing'],
  ['', 'empty'],
  ['admin', 'relative'],
  ['*', 'asterisk-form'],
  ['http://evil.example/admin', 'absolute-form'],
  ['example.com:443', 'authority-form'],
  ['/..', 'above root'],
  ['/a/../..', 'above root twice'],
  ['/%2e%2e/x', 'encoded above root'],
  ['/public/..%2fadmin', 'encoded slash'],
  ['/public/..%2Fadmin', 'encoded slash upper'],
  ['/a%5cb', 'encoded backslash'],
  ['/a\\b', 'backslash'],
  ['/admin%00', 'encoded NUL'],
  ['/admin\u0000', 'raw NUL'],
  ['/admin%0d%0aX-Injected:1', 'encoded CRLF'],
  ['/admin%7f', 'encoded DEL'],
  ['/admin\t', 'tab'],
  ['/admin x', 'space'],
  ['/admin;x', 'path parameter'],
  ['/admin;jsessionid=1/x', 'path parameter mid-path'],
  ['/%zz', 'invalid escape'],
  ['/%2', 'truncated escape'],
  ['/%', 'lone percent'],
  ['/café', 'raw non-ASCII'],
  ['/\u00e9', 'raw latin1 byte'],
  ['/p?q=a b', 'space in query'],
  ['/p?q=\u0001', 'control in query'],
  ['/p?q=\u00ff', 'non-ASCII in query'],
  [`/${'a'.repeat(MAX_TARGET_LENGTH)}`, 'too long'],
];

describe('parseRequestTarget', () => {
  for (const [raw, path, search = ''] of accepted) {
    test(`accepts ${JSON.stringify(raw)} as ${path}${search}`, () => {
      assert.deepEqual(parseRequestTarget(raw), { path, search });
    });
  }

  for (const [raw, why] of refused) {
    test(`refuses ${JSON.stringify(raw)?.slice(0, 40)} (${why})`, () => {
      assert.throws(
        () => parseRequestTarget(raw),
        (err: unknown) => err instanceof GatehouseError && err.code === 'bad_request' && err.status === 400,
      );
    });
  }

  const segment = fc.oneof(
    fc.constantFrom('.', '..', '', '%2e', '%2E%2e', 'admin', 'a%62c', '%41', '%c3%a9', '~', 'x.y'),
    fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,=:@-]{1,6}$/),
  );
  const target = fc.array(segment, { maxLength: 8 }).map((segs) => `/${segs.join('/')}`);
  const parseOrNull = (raw: string) => {
    try {
      return parseRequestTarget(raw);
    } catch {
      return null;
    }
  };

  test('property: the normalized path is a fixed point and stable under WHATWG URL', () => {
    fc.assert(
      fc.property(target, (raw) => {
        const parsed = parseOrNull(raw);
        if (parsed === null) return;
        assert.deepEqual(parseRequestTarget(parsed.path), { path: parsed.path, search: '' });
        assert.equal(new URL(parsed.path, 'http://h.invalid').pathname, parsed.path);
        assert.ok(!parsed.path.includes('//'));
        assert.ok(!/(^|\/)\.\.?(\/|$)/.test(parsed.path));
      }),
      { seed: 1, numRuns: 500 },
    );
  });

  test('property: agrees with WHATWG URL dot-segment removal when nothing climbs above root', () => {
    fc.assert(
      fc.property(target, (raw) => {
        const parsed = parseOrNull(raw);
        if (parsed === null || raw.includes('//')) return;
        // WHATWG decodes no escapes but %2e; compare after decoding unreserved ones the same way.
        const whatwg = new URL(raw, 'http://h.invalid').pathname;
        assert.equal(parseRequestTarget(whatwg).path, parsed.path);
      }),
      { seed: 1, numRuns: 500 },
    );
  });
});
