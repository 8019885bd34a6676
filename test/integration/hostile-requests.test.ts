/**
 * issue 10: generated hostile request lines and headers, sent as raw bytes to the real server
 * (dev IdP, echo upstream, session + bearer routes, the auth_request endpoint). Gatehouse may
 * refuse anything, but it never answers 5xx, never leaks a stack, never leaves an unhandled
 * rejection, and still serves a normal request afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { idpBearer, route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

let idp: DevIdp;
let upstream: EchoUpstream;
let gh: TestGatehouse;
let port: number;

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  upstream = await startEchoUpstream();
  port = await freePort();
  idp = await startDevIdp({ redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`] });
  gh = await startTestGatehouse(
    testConfig({
      idp,
      server: { trusted_proxies: ['127.0.0.1/32'] },
      bearer: [idpBearer(idp, { algorithms: ['ES256', 'RS256'] })],
      routes: [
        route('public', '/public', upstream.url, { policy: 'public' }),
        route('app', '/', upstream.url, { auth: ['session', 'bearer'] }),
      ],
    }),
    { port },
  );
});

after(async () => {
  await gh.close();
  await idp.close();
  await upstream.close();
  process.off('unhandledRejection', onUnhandled);
});

const latin1 = fc.string({ unit: 'binary-ascii', maxLength: 24 }).map((s) => s.replace(/[\r\n]/g, ''));
const bytes = fc.string({ unit: 'binary', maxLength: 24 }).map((s) =>
  // one code unit per byte, as latin1 puts it on the wire
  [...s].map((c) => String.fromCharCode(c.charCodeAt(0) & 0xff)).join(''),
);
const method = fc.oneof(
  { weight: 4, arbitrary: fc.constant('GET') },
  { weight: 4, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'PROPFIND') },
  { weight: 1, arbitrary: fc.constantFrom('TRACE', 'get', 'X', 'CONNECT', 'PRI') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/) },
);
const target = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '/',
      '/public',
      '/public/../app',
      '/%2e%2e/admin',
      '/public%2F..%2Fapp',
      '//evil.example/x',
      '/a;b',
      '/a\\b',
      '*',
      'http://evil.example/',
      'evil.example:443',
      '/.gatehouse/auth',
      '/.gatehouse/start?rd=//evil.example',
      '/.gatehouse/start?rd=http://evil.example/',
      '/.gatehouse/callback?code=x&state=y',
      '/.gatehouse/callback?state=%00&code=%ff',
      '/.gatehouse/sign_out?rd=javascript:alert(1)',
      '/.gatehouse/userinfo',
      '/.gatehouse/jwks.json',
      '/.gatehouse/nope',
      '/.gatehouse/backchannel_logout',
      `/${'a'.repeat(9000)}`,
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('/', '/public/', '/.gatehouse/', '/x?'), bytes)
      .map(([a, b]) => a + b),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.constantFrom('/', '..', '.', '%2e', '%2f', '%25', '%', '?', '#', ';', 'a', '%c0%af', '\u00e9'),
        { maxLength: 12 },
      )
      .map((p) => `/${p.join('')}`),
  },
);
const version = fc.oneof(
  { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1x', 'http/1.1') },
);
const headerName = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'Host',
      'Authorization',
      'Cookie',
      'X-Forwarded-For',
      'X-Forwarded-Host',
      'X-Forwarded-Proto',
      'X-Forwarded-Uri',
      'Forwarded',
      'X-Original-URI',
      'X-Original-Method',
      'X-Real-IP',
      'X-Auth-Request-User',
      'X-Gatehouse-Assertion',
      'X-Gatehouse-Sub',
      'Accept',
      'Content-Length',
      'Transfer-Encoding',
      'Expect',
      'Upgrade',
      'Sec-WebSocket-Key',
      'Origin',
      'Sec-Fetch-Site',
    ),
  },
  { weight: 2, arbitrary: fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/) },
  { weight: 1, arbitrary: latin1 },
);
const headerValue = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'Bearer ',
      'Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.',
      'Bearer a.b.c',
      'Bearer eyJ.eyJ.eyJ',
      'Basic Zm9vOmJhcg==',
      'bearer  x',
      `Bearer ${'A'.repeat(20000)}`,
      'gatehouse=Fe26.2*1*aa*bb*cc**dd*ee~2',
      'gatehouse.0=x; gatehouse.1=y; gatehouse.01=z',
      `__Host-gatehouse=${'x'.repeat(4000)}`,
      'gatehouse_login=abc; gatehouse_login.1=def',
      '127.0.0.1, ::1, 999.1.1.1, unknown',
      'for="[::1]";proto=https;host=evil',
      'https, http',
      'evil.example',
      'evil.example:99999',
      '',
      '-1',
      '0',
      '5',
      '18446744073709551616',
      'chunked',
      'chunked, identity',
      'gzip, chunked',
      '100-continue',
      'websocket',
      'text/html',
      'application/json;q=0.1, text/html;q=abc',
      '/admin',
      '/%2e%2e/admin',
      'GET\u0000',
      'null',
    ),
  },
  { weight: 2, arbitrary: latin1 },
  { weight: 1, arbitrary: bytes },
);
const requestHead = fc
  .record({
    method,
    target,
    version,
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 }),
    host: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  })
  .map(({ method, target, version, headers, host }) => {
    const lines = [`${method} ${target} ${version}`];
    if (host) lines.push(`Host: 127.0.0.1:${port}`);
    for (const [n, v] of headers) lines.push(`${n}: ${v}`);
    lines.push('Connection: close');
    return `${lines.join('\r\n')}\r\n\r\n`;
  });

describe('hostile raw requests against the real server', () => {
  test('property: no generated request line or header set gets a 5xx, a stack or a hang', async (t) => {
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(requestHead, async (head) => {
        const res = await rawRequest(port, head, 4000);
        const key = Number.isNaN(res.status) ? 'closed' : String(res.status);
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        assert.ok(
          Number.isNaN(res.status) || res.status < 500,
          `${res.status} for ${JSON.stringify(head.slice(0, 300))}`,
        );
        assert.doesNotMatch(res.body, /\n\s+at .+:\d+:\d+|node:internal|ECONN/, 'no stack or internals');
      }),
      { seed: 50, numRuns: 600 },
    );
    t.diagnostic(`statuses: ${JSON.stringify([...statuses].sort())}`);
    // the generator reaches the interesting answers, not only parser errors
    for (const s of ['400', '401', '404'])
      assert.ok((statuses.get(s) ?? 0) > 0, `no ${s}: ${JSON.stringify([...statuses])}`);
  });

  test('request smuggling shapes are refused or answered once, never forwarded as two', async () => {
    const before = upstream.requests.length;
    for (const head of [
      'POST /public HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nGET /public/smuggled HTTP/1.1\r\nHost: h\r\n\r\n',
      'POST /public HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!',
      'POST /public HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\nConnection: close\r\n\r\n0\r\n\r\n',
      'GET /public HTTP/1.1\r\nHost: h\r\n Folded: x\r\nConnection: close\r\n\r\n',
      'GET /public HTTP/1.1\r\nHost: h\r\nX: a\rb\r\nConnection: close\r\n\r\n',
      'GET /public HTTP/1.1\nHost: h\nConnection: close\n\n',
    ]) {
      const res = await rawRequest(port, head, 4000);
      assert.ok(Number.isNaN(res.status) || res.status < 500, `${res.status} for ${JSON.stringify(head)}`);
    }
    const smuggled = upstream.requests.slice(before).filter((r) => r.url.includes('smuggled'));
    assert.equal(smuggled.length, 0);
  });

  test('the server still serves normally, and nothing was left unhandled', async () => {
    const res = await request(`http://127.0.0.1:${port}/public/ok`);
    assert.equal(res.statusCode, 200);
    await res.body.text();
    const res2 = await request(`http://127.0.0.1:${port}/app`, { headers: { accept: 'application/json' } });
    assert.equal(res2.statusCode, 401);
    await res2.body.text();
    assert.deepEqual(unhandled, []);
    const internal = gh.logs().filter((l) => String(l.msg).includes('unexpected error') || l.level === 50);
    assert.deepEqual(internal, [], 'no internal_error was logged');
  });
});
