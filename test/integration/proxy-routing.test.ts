/**
 * Routing precedence and request-target normalization through the real Gatehouse: routes from
 * config (all `policy: public`) proxy to the echo upstream, whose path prefix (`/r-<route>`)
 * reveals which route answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { auditLine } from '../fixtures/proxy-gatehouse.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

describe('proxy routing', () => {
  let upstream: EchoUpstream;
  let gh: TestGatehouse;

  before(async () => {
    upstream = await startEchoUpstream();
    const r = (name: string, match: object) => ({
      name,
      match,
      upstream: `${upstream.url}/r-${name}`,
      policy: 'public',
    });
    gh = await startTestGatehouse(
      stringify({
        routes: [
          r('any', { path: '/' }),
          r('any-admin', { path: '/admin' }),
          r('wild', { host: '*.example.test', path: '/' }),
          r('exact', { host: 'app.example.test', path: '/' }),
          r('exact-api', { host: 'app.example.test', path: '/api' }),
          r('exact-api-post', { host: 'app.example.test', path: '/api', methods: ['POST'] }),
        ],
      }),
    );
  });
  after(async () => {
    await gh?.close();
    await upstream?.close();
  });

  const send = async (method: string, target: string, host: string, extra = '') =>
    rawRequest(
      gh.gh.publicAddress.port,
      `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${extra}`,
    );
  const routeOf = async (method: string, target: string, host: string) => {
    const res = await send(method, target, host);
    assert.equal(res.status, 200, res.raw.slice(0, 300));
    return (JSON.parse(res.body) as { url: string }).url;
  };

  test('host precedence: exact > wildcard > any host', async () => {
    assert.equal(await routeOf('GET', '/admin/x', 'app.example.test'), '/r-exact/admin/x');
    assert.equal(await routeOf('GET', '/admin/x', 'APP.Example.test:8080'), '/r-exact/admin/x');
    assert.equal(await routeOf('GET', '/admin/x', 'other.example.test'), '/r-wild/admin/x');
    assert.equal(await routeOf('GET', '/admin/x', 'elsewhere.test'), '/r-any-admin/admin/x');
    assert.equal(await routeOf('GET', '/administrator', 'elsewhere.test'), '/r-any/administrator');
  });

  test('path and method precedence within a host', async () => {
    assert.equal(await routeOf('GET', '/api/v1', 'app.example.test'), '/r-exact-api/api/v1');
    assert.equal(await routeOf('POST', '/api/v1', 'app.example.test'), '/r-exact-api-post/api/v1');
    assert.equal(await routeOf('GET', '/apix', 'app.example.test'), '/r-exact/apix');
  });

  test('routing, policy and upstream all see the normalized path', async () => {
    // Each trick would reach /admin on a naive upstream; normalized, it routes as /admin too.
    for (const trick of [
      '/public/../admin/x',
      '/%61dmin/x',
      '//admin/x',
      '/public/%2e%2e/admin/x',
      '/./admin/x',
    ]) {
      assert.equal(await routeOf('GET', trick, 'elsewhere.test'), '/r-any-admin/admin/x', trick);
    }
    assert.equal(await routeOf('GET', '/a?x=%2F&y=..', 'elsewhere.test'), '/r-any/a?x=%2F&y=..');
  });

  test('malformed targets → 400 JSON naming only the reason code', async () => {
    const tricks = [
      '/public/..%2fadmin',
      '/admin;x',
      '/admin%00',
      '/..',
      '/a%5cb',
      '/%zz',
      '/a\\b',
      'http://evil.test/admin',
    ];
    for (const trick of tricks) {
      const res = await send('GET', trick, 'elsewhere.test');
      assert.equal(res.status, 400, trick);
      assert.match(res.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = JSON.parse(res.body) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'request_id']);
      assert.equal(body.error, 'bad_request');
      assert.equal(body.message, 'The request is malformed.');
      assert.doesNotMatch(res.body, /at |\.ts|node:|refused|percent/i, trick);
    }
    const before = upstream.requests.length;
    const refused = JSON.parse((await send('GET', '/admin;x', 'elsewhere.test')).body) as {
      request_id: string;
    };
    assert.equal(upstream.requests.length, before, 'a refused request never reaches the upstream');
    const line = await auditLine(gh, (l) => l.request_id === refused.request_id);
    assert.deepEqual([line.status, line.decision, line.reason], [400, 'error', 'bad_request']);
  });

  test('HTML for browsers, JSON otherwise; both escaped and without internals', async () => {
    const browser = await send(
      'GET',
      '/admin;<script>',
      'x.test',
      'Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n',
    );
    assert.equal(browser.status, 400);
    assert.match(browser.headers['content-type'] ?? '', /^text\/html/);
    assert.match(browser.headers['content-security-policy'] ?? '', /default-src 'none'/);
    assert.match(browser.body, /<h1>The request could not be understood<\/h1>/);
    assert.match(browser.body, /Reason: <code>bad_request<\/code>/);
    assert.doesNotMatch(browser.body, /<script>/);

    const api = await send('GET', '/admin;x', 'x.test', 'Accept: */*\r\n');
    assert.match(api.headers['content-type'] ?? '', /^application\/json/);

    const head = await send('HEAD', '/admin;x', 'x.test');
    assert.equal(head.status, 400);
    assert.equal(head.body, '');
  });
});
