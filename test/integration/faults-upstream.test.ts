/**
 * issue 10 faults on the upstream side, through the real server: an upstream resetting
 * mid-stream (the client sees a clean error, no socket or handle is leaked) and an upstream host
 * that does not resolve (502). Each: no crash, no unhandled rejection, a log line with a reason,
 * and a metric.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { route, testConfig } from '../helpers/config.ts';
import { get, metric, watchUnhandled } from '../helpers/faults.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { waitFor } from '../helpers/wait.ts';

const unhandled = watchUnhandled();
let upstream: EchoUpstream;
let gh: TestGatehouse;

const activeHandles = () =>
  (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;

before(async () => {
  upstream = await startEchoUpstream();
  gh = await startTestGatehouse(
    testConfig({
      routes: [
        route('echo', '/echo', upstream.url, { policy: 'public' }),
        route('nowhere', '/nowhere', 'http://nonexistent.invalid', { timeout: '5s', policy: 'public' }),
      ],
    }),
  );
});

after(async () => {
  await gh.close();
  await upstream.close();
  assert.deepEqual(unhandled.stop(), [], 'no unhandled rejection');
});

/** One GET on a fresh connection; resolves with what arrived and how it ended. */
function fetchRaw(path: string): Promise<{ status: number; bytes: number; error?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: gh.gh.publicAddress.port, path, agent: false },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', (err) =>
          resolve({
            status: res.statusCode ?? 0,
            bytes,
            error: (err as NodeJS.ErrnoException).code ?? err.message,
          }),
        );
      },
    );
    req.on('error', (err) =>
      resolve({ status: 0, bytes: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }),
    );
    req.end();
  });
}

describe('upstream faults through the real server', () => {
  it('an upstream reset mid-stream: the client gets a clean error, no socket or handle leaks', async () => {
    await get(`${gh.url}/echo/warm`); // pools and lazy handles exist before the baseline
    const handlesBefore = activeHandles();
    const resetsBefore = await metric(gh.adminUrl, 'gatehouse_upstream_errors_total', {
      route: 'echo',
      kind: 'reset',
    });
    for (let i = 0; i < 10; i++) {
      const r = await fetchRaw('/echo/__reset');
      assert.equal(r.status, 200, 'the headers had been sent');
      assert.ok(r.bytes < 1_000_000, 'the body is visibly truncated');
      assert.ok(r.error, 'the client sees the connection end in error, not a clean end');
    }
    await waitFor(
      async () =>
        (await metric(gh.adminUrl, 'gatehouse_upstream_errors_total', { route: 'echo', kind: 'reset' })) >=
        resetsBefore + 10,
      { timeoutMs: 3000, what: 'reset metrics' },
    );
    // Audit lines follow the responses (and are batched): wait for all ten, then check them.
    const resetAudit = () => gh.audit().filter((a) => a.path === '/echo/__reset');
    await waitFor(() => resetAudit().length >= 10, { timeoutMs: 3000, what: 'ten reset audit lines' });
    const audit = resetAudit();
    assert.equal(audit.length, 10);
    for (const a of audit) assert.equal(a.reason, 'upstream_reset');
    const resetLines = gh.logs().filter((l) => l.msg === 'upstream closed the connection mid-response');
    assert.equal(resetLines.length, 10, 'issue-10 every mid-response reset is logged with its reason');
    assert.equal(resetLines[0]!.reason, 'upstream_reset');
    // every socket of the 10 resets is gone again (allow the two listeners' idle keep-alives)
    await waitFor(() => activeHandles() <= handlesBefore + 2, {
      timeoutMs: 3000,
      what: `handles back to ${handlesBefore}`,
    });
    // and the route still works
    const ok = await get(`${gh.url}/echo/fine`);
    assert.equal(ok.status, 200);
  });

  it('an upstream host that does not resolve (DNS failure) → 502 upstream_unreachable', async () => {
    const before = await metric(gh.adminUrl, 'gatehouse_upstream_errors_total', {
      route: 'nowhere',
      kind: 'unreachable',
    });
    const res = await get(`${gh.url}/nowhere/x`, { accept: 'application/json' });
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.body).error, 'upstream_unreachable');
    assert.doesNotMatch(res.body, /ENOTFOUND|EAI_AGAIN|nonexistent/);
    await waitFor(
      async () =>
        (await metric(gh.adminUrl, 'gatehouse_upstream_errors_total', {
          route: 'nowhere',
          kind: 'unreachable',
        })) ===
        before + 1,
      { timeoutMs: 3000, what: 'metric' },
    );
    const line = gh.logs().find((l) => l.msg === 'upstream request failed' && l.route === 'nowhere');
    assert.ok(line, 'logged');
    assert.match(
      String(line.error_code),
      /^(ENOTFOUND|EAI_AGAIN)$/,
      'issue-10 the resolver error code is logged, not redacted',
    );
    const html = await get(`${gh.url}/nowhere/y`, { accept: 'text/html' });
    assert.equal(html.status, 502);
    assert.match(html.body, /cannot be reached right now/);
  });
});
