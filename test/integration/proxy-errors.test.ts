/**
 * Upstream failures through the real Gatehouse: each becomes a coded answer (or, once the
 * response has started, a destroyed connection), never a stack trace, a hang or a crash – and
 * leaves an audit line naming the reason, and a warning carrying only the error's code.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { auditLine, logLine } from '../fixtures/proxy-gatehouse.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
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
  let gh: TestGatehouse;
  const cert = selfSignedCert();
  const tls = cert ? createHttpsServer(cert, (_req, res) => res.end('tls ok')) : undefined;
  /** An upstream that never answers and records when a request it holds goes away. */
  const held: IncomingMessage[] = [];
  const closed = new Set<IncomingMessage>();
  const hang = createServer((req) => {
    held.push(req);
    req.on('close', () => closed.add(req));
  });

  before(async () => {
    upstream = await startEchoUpstream();
    let tlsPort = 0;
    if (tls) {
      await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
      tlsPort = (tls.address() as AddressInfo).port;
    }
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const r = (name: string, target: string, extra: object = {}) => ({
      name,
      match: { path: `/${name}` },
      upstream: target,
      policy: 'public',
      ...extra,
    });
    gh = await startTestGatehouse(
      stringify({
        routes: [
          r('closed', `http://127.0.0.1:${await closedPort()}`),
          r('unresolvable', 'http://gatehouse-test.invalid'),
          r('slow', upstream.url, { timeout: '200ms' }),
          r('echo', upstream.url),
          r('tls', `https://localhost:${tlsPort}`),
          r('hang', `http://127.0.0.1:${(hang.address() as AddressInfo).port}`),
        ],
      }),
    );
  });
  after(async () => {
    await gh?.close();
    await upstream?.close();
    hang.closeAllConnections();
    await new Promise<void>((resolve) => hang.close(() => resolve()));
    tls?.closeAllConnections();
    await new Promise<void>((resolve) => (tls ? tls.close(() => resolve()) : resolve()));
  });

  const get = (target: string, accept = 'application/json') =>
    rawRequest(
      gh.gh.publicAddress.port,
      `GET ${target} HTTP/1.1\r\nHost: h\r\nAccept: ${accept}\r\nConnection: close\r\n`,
    );
  /** The audit line of the exchange that answered `res` (its X-Request-Id). */
  const auditOf = (res: Awaited<ReturnType<typeof get>>) => {
    const id = res.headers['x-request-id'];
    assert.ok(id, 'the answer names its request id');
    return auditLine(gh, (l) => l.request_id === id, `the audit line of ${id}`);
  };

  const assertCoded = (res: Awaited<ReturnType<typeof get>>, status: number, code: string) => {
    assert.equal(res.status, status, res.raw.slice(0, 300));
    const body = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(body.error, code);
    assert.doesNotMatch(res.body, /ECONN|127\.0\.0\.1|at |stack/);
    assert.equal(res.headers['cache-control'], 'no-store');
  };

  test('a closed port → 502 upstream_unreachable; the log has the code, never a stack', async () => {
    const res = await get('/closed/x');
    assertCoded(res, 502, 'upstream_unreachable');
    const line = await auditOf(res);
    assert.deepEqual(
      [line.route, line.status, line.decision, line.reason],
      ['closed', 502, 'error', 'upstream_unreachable'],
    );
    const warning = await logLine(
      gh,
      (l) => l.request_id === res.headers['x-request-id'] && l.level === 'warn',
    );
    assert.equal(warning.error_code, 'ECONNREFUSED', 'the code is logged');
    assert.equal(warning.route, 'closed');
    assert.equal(warning.err, undefined, 'no error object (stack, addresses) is logged');
    assert.doesNotMatch(JSON.stringify(warning), /\bat |127\.0\.0\.1:\d/, 'no stack or address is logged');
  });

  test('an unresolvable host → 502 upstream_unreachable', async () => {
    assertCoded(await get('/unresolvable'), 502, 'upstream_unreachable');
  });

  test('an upstream that never answers → 504 upstream_timeout after the route timeout', async () => {
    const started = performance.now();
    const res = await get('/slow/__hang');
    assertCoded(res, 504, 'upstream_timeout');
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 190, `answered after ${elapsed}ms`);
    assert.equal((await auditOf(res)).reason, 'upstream_timeout');
  });

  test('an upstream slower than nothing but faster than the timeout is fine', async () => {
    const res = await get('/slow/__slow?ms=20');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'slow');
    const line = await auditOf(res);
    assert.deepEqual([line.status, line.decision], [200, 'allow']);
  });

  test('a reset before the response → 502 upstream_reset', async () => {
    const res = await get('/echo/__reset-early');
    assertCoded(res, 502, 'upstream_reset');
    assert.equal((await auditOf(res)).reason, 'upstream_reset');
  });

  test('a reset mid-response destroys the client connection and reports upstream_reset', async () => {
    const res = await get('/echo/__reset');
    assert.equal(res.status, 200, 'the headers were already sent');
    assert.equal(res.headers['content-length'], '1000000');
    assert.ok(res.body.length < 1_000_000, 'the body is visibly truncated, never completed');
    const line = await auditOf(res);
    assert.deepEqual([line.status, line.decision, line.reason], [200, 'error', 'upstream_reset']);
    await logLine(
      gh,
      (l) => l.request_id === res.headers['x-request-id'] && l.reason === 'upstream_reset',
      'the warning that explains the truncated body',
    );
  });

  test('browsers get the upstream error as HTML', async () => {
    const res = await get('/closed', 'text/html');
    assert.equal(res.status, 502);
    assert.match(res.headers['content-type'] ?? '', /^text\/html/);
    assert.match(res.body, /The application behind this page cannot be reached right now\./);
    assert.match(res.body, /Reason: <code>upstream_unreachable<\/code>/);
    assert.match(res.body, /href="\/closed">Try again</);
  });

  test('an upstream certificate that does not verify → 502, the request never sent', {
    skip: !cert,
  }, async () => {
    assertCoded(await get('/tls'), 502, 'upstream_unreachable');
  });

  test('a client that leaves mid-request: the upstream request is torn down', async () => {
    const before = held.length;
    await new Promise<void>((resolve) => {
      const req = request({
        port: gh.gh.publicAddress.port,
        host: '127.0.0.1',
        path: '/hang/x',
        headers: { host: 'h' },
      });
      req.on('error', () => resolve());
      req.end();
      // Bounded wait for the upstream to hold the request, then vanish.
      const poll = setInterval(() => {
        if (held.length > before) {
          clearInterval(poll);
          req.destroy();
        }
      }, 5);
      setTimeout(() => clearInterval(poll), 2000).unref();
    });
    const upstreamSide = held[before];
    assert.ok(upstreamSide, 'the upstream got the request');
    for (let i = 0; i < 200 && !closed.has(upstreamSide); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(closed.has(upstreamSide), 'the upstream request was closed, not left hanging');
    const line = await auditLine(gh, (l) => l.route === 'hang', 'the audit line of the abandoned request');
    // No answer went out: the line says so with nginx's 499, and keeps the decision.
    assert.equal(line.status, 499);
    assert.equal(line.decision, 'allow');
  });
});
