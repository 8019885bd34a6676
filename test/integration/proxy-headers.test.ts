/**
 * Header hygiene through the real Gatehouse: hop-by-hop headers both ways, X-Forwarded-* trust,
 * Host, identity headers (on a bearer route, the way production sets them), keep-alive reuse of
 * upstream connections, and chunked bodies that must stay bodies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { type BearerIssuer, startBearerIssuer } from '../fixtures/proxy-gatehouse.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

describe('proxy headers', () => {
  let upstream: EchoUpstream;
  let issuer: BearerIssuer;
  let untrusting: TestGatehouse;
  let trusting: TestGatehouse;

  before(async () => {
    upstream = await startEchoUpstream();
    issuer = await startBearerIssuer();
    const routes = [
      { name: 'default', upstream: upstream.url, policy: 'public' },
      {
        name: 'preserve',
        match: { path: '/preserve' },
        upstream: upstream.url,
        policy: 'public',
        preserve_host: true,
      },
      {
        name: 'api',
        match: { path: '/api' },
        upstream: upstream.url,
        auth: ['bearer'],
        policy: { allow: [{ authenticated: true }] },
      },
    ];
    untrusting = await startTestGatehouse(stringify({ bearer: [issuer.config], routes }));
    trusting = await startTestGatehouse(
      stringify({ server: { trusted_proxies: ['127.0.0.1/32'] }, bearer: [issuer.config], routes }),
    );
  });
  after(async () => {
    await untrusting?.close();
    await trusting?.close();
    await issuer?.close();
    await upstream?.close();
  });

  const echo = async (gh: TestGatehouse, target: string, headers: string) => {
    const res = await rawRequest(
      gh.gh.publicAddress.port,
      `GET ${target} HTTP/1.1\r\nHost: app.example.test\r\n${headers}`,
    );
    assert.equal(res.status, 200, res.raw.slice(0, 300));
    return JSON.parse(res.body) as { url: string; headers: Record<string, string> };
  };

  test('request hop-by-hop headers, and those Connection names, never reach the upstream', async () => {
    const seen = await echo(
      untrusting,
      '/api/h',
      'Connection: close, X-Hop, X-Auth-Request-User\r\nX-Hop: 1\r\nKeep-Alive: timeout=99\r\nTE: trailers\r\n' +
        `Proxy-Authorization: Basic Zm9vOmJhcg==\r\nUpgrade: h2c\r\nX-Kept: yes\r\nX-Auth-Request-User: mallory\r\n` +
        `Authorization: Bearer ${await issuer.token('alice')}\r\n`,
    );
    for (const name of ['x-hop', 'te', 'proxy-authorization', 'upgrade'])
      assert.equal(seen.headers[name], undefined, name);
    assert.notEqual(seen.headers['keep-alive'], 'timeout=99');
    assert.equal(seen.headers['x-kept'], 'yes');
    // Connection may not strip a header Gatehouse sets, and the client's own copy is replaced.
    assert.equal(seen.headers['x-auth-request-user'], 'alice');
  });

  test('response hop-by-hop headers from the upstream never reach the client', async () => {
    const res = await rawRequest(
      untrusting.gh.publicAddress.port,
      'GET /__respond?status=201&header=Connection:x-internal&header=X-Internal:secret&header=Proxy-Authenticate:Basic' +
        '&header=Set-Cookie:a=1&header=Set-Cookie:b=2&header=X-App:ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n',
    );
    assert.equal(res.status, 201);
    assert.equal(res.headers['x-internal'], undefined);
    assert.equal(res.headers['proxy-authenticate'], undefined);
    assert.equal(res.headers['x-app'], 'ok');
    assert.match(res.raw, /set-cookie: a=1\r\nset-cookie: b=2/i);
    assert.equal(res.body, 'custom');
  });

  test('an untrusted client: its forwarded headers are replaced, its overrides dropped', async () => {
    const seen = await echo(
      untrusting,
      '/h',
      'X-Forwarded-For: 6.6.6.6\r\nX_Forwarded_For: 7.7.7.7\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Host: evil.test\r\n' +
        'X-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\nX-Original-URL: /admin\r\nX-HTTP-Method-Override: DELETE\r\n' +
        'X-Request-Id: forged\r\nConnection: close\r\n',
    );
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-real-ip'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-host'], 'app.example.test');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.match(seen.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    for (const name of ['x_forwarded_for', 'forwarded', 'x-original-url', 'x-http-method-override']) {
      assert.equal(seen.headers[name], undefined, name);
    }
  });

  test('a trusted proxy: its X-Forwarded-For chain is kept and extended', async () => {
    const seen = await echo(
      trusting,
      '/h',
      'X-Forwarded-For: 203.0.113.7, 10.0.0.2\r\nConnection: close\r\n',
    );
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 10.0.0.2, 127.0.0.1');
    assert.equal(seen.headers['x-real-ip'], '10.0.0.2');
  });

  test('Host is the upstream host unless preserve_host; the path and query go exactly as normalized', async () => {
    const plain = await echo(untrusting, '/a/../b?q=%2f&x="y"', 'Connection: close\r\n');
    assert.equal(plain.headers.host, `127.0.0.1:${upstream.port}`);
    assert.equal(plain.url, '/b?q=%2f&x=%22y%22');
    const preserved = await echo(untrusting, '/preserve/x', 'Connection: close\r\n');
    assert.equal(preserved.headers.host, 'app.example.test');
  });

  test('upstream connections are kept alive and reused across requests', async () => {
    const first = upstream.requests.length;
    await echo(untrusting, '/reuse-1', 'Connection: close\r\n');
    await echo(untrusting, '/reuse-2', 'Connection: close\r\n');
    const [a, b] = upstream.requests.slice(first);
    assert.ok(a?.remotePort && a.remotePort === b?.remotePort, 'the same upstream socket served both');
    assert.equal(b?.headers.connection, 'keep-alive');
  });

  test('a chunked DELETE/OPTIONS body stays a body: no request is smuggled upstream', async () => {
    const inner = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const body = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
    for (const method of ['DELETE', 'OPTIONS', 'POST']) {
      const first = upstream.requests.length;
      const res = await rawRequest(
        untrusting.gh.publicAddress.port,
        `${method} /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`,
      );
      assert.equal(res.status, 200, method);
      // A smuggled request would arrive on the pooled connection right after this one.
      await echo(untrusting, '/after', 'Connection: close\r\n');
      const seen = upstream.requests.slice(first).map((r) => `${r.method} ${r.url} ${r.bodyBytes}`);
      assert.deepEqual(seen, [`${method} /x ${inner.length}`, 'GET /after 0'], method);
    }
  });
});
