/**
 * Upstream failures over real sockets: each becomes a coded answer (or, once the response has
 * started, a destroyed connection), never a stack trace, a hang or a crash.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ProxyFront, startProxyFront } from '../fixtures/proxy-front.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function selfSignedCert(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('proxy upstream errors', () => {
  let upstream: EchoUpstream;
  let front: ProxyFront;
  const cert = selfSignedCert();
  const tls = cert ? createHttpsServer(cert, (_req, res) => res.end('tls ok')) : undefined;

  before(async () => {
    upstream = await startEchoUpstream();
    let tlsPort = 0;
    if (tls) {
      await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
      tlsPort = (tls.address() as AddressInfo).port;
    }
    const r = (name: string, target: string, extra: object = {}) => ({
      name,
      match: { path: `/${name}` },
      upstream: target,
      policy: 'public',
      ...extra,
    });
    front = await startProxyFront({
      routes: [
        r('closed', `http://127.0.0.1:${await closedPort()}`),
        r('unresolvable', 'http://gatehouse-test.invalid'),
        r('slow', upstream.url, { timeout: '200ms' }),
        r('echo', upstream.url),
        r('tls', `https://localhost:${tlsPort}`),
      ],
    });
  });
  after(async () => {
    await front?.close();
    await upstream?.close();
    tls?.closeAllConnections();
    await new Promise<void>((resolve) => (tls ? tls.close(() => resolve()) : resolve()));
  });

  const get = (target: string, accept = 'application/json') =>
    rawRequest(front.port, `GET ${target} HTTP/1.1\r\nHost: h\r\nAccept: ${accept}\r\nConnection: close\r\n`);
  /** The outcome of the exchange that follows: res 'close' may trail the client by a tick. */
  const outcomeAfter = async (count: number) => {
    for (let i = 0; i < 200 && front.outcomes.length <= count; i++)
      await new Promise((r) => setTimeout(r, 5));
    return front.outcomes[count];
  };

  const assertCoded = (res: Awaited<ReturnType<typeof get>>, status: number, code: string) => {
    assert.equal(res.status, status, res.raw.slice(0, 300));
    const body = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(body.error, code);
    assert.doesNotMatch(res.body, /ECONN|127\.0\.0\.1|at |stack/);
    assert.equal(res.headers['cache-control'], 'no-store');
  };

  test('a closed port → 502 upstream_unreachable', async () => {
    const count = front.outcomes.length;
    assertCoded(await get('/closed/x'), 502, 'upstream_unreachable');
    assert.deepEqual(
      { ...(await outcomeAfter(count)), upstreamMs: 0 },
      { status: 502, reason: 'upstream_unreachable', upstreamMs: 0, route: 'closed' },
    );
    assert.ok(
      front.warnings.some((w) => JSON.stringify(w.obj).includes('ECONNREFUSED')),
      'the code is logged',
    );
    assert.ok(
      front.warnings.every((w) => !JSON.stringify(w.obj).includes('at ')),
      'no stack is logged',
    );
  });

  test('an unresolvable host → 502 upstream_unreachable', async () => {
    assertCoded(await get('/unresolvable'), 502, 'upstream_unreachable');
  });

  test('an upstream that never answers → 504 upstream_timeout after the route timeout', async () => {
    const count = front.outcomes.length;
    const started = performance.now();
    assertCoded(await get('/slow/__hang'), 504, 'upstream_timeout');
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 190, `answered after ${elapsed}ms`);
    assert.equal((await outcomeAfter(count))?.reason, 'upstream_timeout');
  });

  test('an upstream slower than nothing but faster than the timeout is fine', async () => {
    const res = await get('/slow/__slow?ms=20');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'slow');
  });

  test('a reset before the response → 502 upstream_reset', async () => {
    assertCoded(await get('/echo/__reset-early'), 502, 'upstream_reset');
  });

  test('a reset mid-response destroys the client connection and reports upstream_reset', async () => {
    const count = front.outcomes.length;
    const res = await get('/echo/__reset');
    assert.equal(res.status, 200, 'the headers were already sent');
    assert.equal(res.headers['content-length'], '1000000');
    assert.ok(res.body.length < 1_000_000, 'the body is visibly truncated, never completed');
    const outcome = await outcomeAfter(count);
    assert.deepEqual([outcome?.status, outcome?.reason], [200, 'upstream_reset']);
  });

  test('browsers get the upstream error as HTML', async () => {
    const res = await get('/closed', 'text/html');
    assert.equal(res.status, 502);
    assert.match(res.headers['content-type'] ?? '', /^text\/html/);
    assert.match(res.body, /The upstream service is unreachable\./);
  });

  test('an upstream certificate that does not verify → 502, the request never sent', {
    skip: !cert,
  }, async () => {
    assertCoded(await get('/tls'), 502, 'upstream_unreachable');
  });

  test('a client that leaves mid-request: outcome 499, the upstream request is torn down', async () => {
    const before = upstream.requests.length;
    const count = front.outcomes.length;
    const done = new Promise<void>((resolve) => {
      const req = request({
        port: front.port,
        host: '127.0.0.1',
        path: '/echo/__hang',
        headers: { host: 'h' },
      });
      req.on('error', () => resolve());
      req.end();
      // Bounded wait for the upstream to see the request, then vanish.
      const poll = setInterval(() => {
        if (upstream.requests.length > before) {
          clearInterval(poll);
          req.destroy();
        }
      }, 5);
      setTimeout(() => clearInterval(poll), 2000).unref();
    });
    await done;
    const outcome = await outcomeAfter(count);
    assert.deepEqual([outcome?.status, outcome?.reason], [499, undefined]);
  });
});
