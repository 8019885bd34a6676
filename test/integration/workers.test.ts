/**
 * `server.workers: 2` as users run it: one port answered by two worker processes, one admin
 * /metrics covering both (a `worker` label per slot), SIGHUP reaching the workers, a crashed
 * worker replaced, and SIGTERM draining everything with exit code 0.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LiveView } from '../../src/server/live-view.ts';
import { route, testConfig } from '../helpers/config.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait.ts';

const CLI = new URL('../../cmd/gatehouse.ts', import.meta.url).pathname;

/** One request on a fresh connection (so the cluster's round-robin sees a new connection each time). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The `gatehouse_requests_total{route="assets",…}` value per worker label. */
function requestsByWorker(metrics: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('gatehouse_requests_total{') || !line.includes('route="assets"')) continue;
    const worker = /worker="([^"]+)"/.exec(line)?.[1] ?? '(none)';
    out.set(worker, (out.get(worker) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** Worker labels on the per-process memory metric. */
function processLabels(metrics: string): Set<string> {
  return new Set(
    [...metrics.matchAll(/^process_resident_memory_bytes\{worker="([^"]+)"\}/gm)].map((m) => m[1]!),
  );
}

/** Live child pids of `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort();
}

describe('server.workers: 2', { timeout: 90_000 }, () => {
  let upstream: Server;
  let child: ChildProcess;
  let url: string;
  let adminUrl: string;
  let stderr = '';
  const exited = () =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });

  before(async () => {
    upstream = createServer((_req, res) => res.end('upstream ok\n'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    const admin = await freePort();
    url = `http://127.0.0.1:${port}`;
    adminUrl = `http://127.0.0.1:${admin}`;
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-workers-'));
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      testConfig({
        server: { listen: `127.0.0.1:${port}`, workers: 2, shutdown_grace: '2s' },
        admin: { listen: `127.0.0.1:${admin}` },
        audit: { output: join(dir, 'audit.log') },
        routes: [
          route('assets', '/static', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, {
            policy: 'public',
          }),
        ],
      }),
    );
    child = spawn(process.execPath, [CLI, 'serve', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-16_384);
    });
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`gatehouse exited early: ${stderr}`);
        return (await get(`${adminUrl}/readyz`).catch(() => ({ status: 0 }))).status === 200;
      },
      { timeoutMs: 30_000, what: 'both workers ready' },
    );
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('serves one port from both workers, and /metrics covers both', async () => {
    for (let i = 0; i < 40; i++) {
      const res = await get(`${url}/static/app.js`);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'upstream ok\n');
    }
    const metrics = await get(`${adminUrl}/metrics`);
    assert.equal(metrics.status, 200);
    const byWorker = requestsByWorker(metrics.body);
    assert.deepEqual([...byWorker.keys()].sort(), ['0', '1'], metrics.body.slice(0, 2000));
    assert.ok(
      [...byWorker.values()].every((n) => n > 0),
      'both workers answered',
    );
    assert.equal(
      [...byWorker.values()].reduce((a, b) => a + b, 0),
      40,
    );
    assert.deepEqual([...processLabels(metrics.body)].sort(), ['0', '1'], 'process metrics per worker');
  });

  it('serves the live view from the primary: decisions and rates of both workers, state per worker', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await get(`${url}/static/live-${i}.js`)).status, 200);
    let view: LiveView | undefined;
    await waitFor(
      async () => {
        const res = await get(`${adminUrl}/live.json`);
        assert.equal(res.status, 200);
        view = JSON.parse(res.body) as LiveView;
        const sampled = (view.rates.routes.assets?.requests ?? []).reduce((a, b) => a + b, 0);
        // Every request both workers counted is in the summed history (all within its window).
        const counted = [...requestsByWorker((await get(`${adminUrl}/metrics`)).body).values()];
        return sampled > 0 && sampled === counted.reduce((a, b) => a + b, 0);
      },
      { timeoutMs: 10_000, what: 'the rates of both workers' },
    );
    assert.ok(view);
    assert.equal(view.mode, 'cluster');
    assert.equal(view.workers, 2);
    assert.deepEqual(
      view.processes.map((p) => [p.worker, p.ready]),
      [
        [0, 'ready'],
        [1, 'ready'],
      ],
    );
    const mine = view.decisions.filter((d) => d.path.startsWith('/static/live-'));
    assert.equal(mine.length, 20, 'every decision, from whichever worker made it');
    assert.deepEqual([...new Set(mine.map((d) => d.worker))].sort(), [0, 1]);
    const times = view.decisions.map((d) => d.time);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'merged by time',
    );
    const page = await get(`${adminUrl}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /Gatehouse · live/);
  });

  it('forwards SIGHUP to the workers: both reload', async () => {
    child.kill('SIGHUP');
    await waitFor(
      async () => {
        const m = (await get(`${adminUrl}/metrics`)).body;
        return ['0', '1'].every((w) =>
          m.includes(`gatehouse_config_reload_total{result="success",worker="${w}"} 1`),
        );
      },
      { timeoutMs: 15_000, what: 'both workers reloaded' },
    );
  });

  it('replaces a worker that crashes', async () => {
    const before = childrenOf(child.pid!);
    assert.equal(before.length, 2);
    process.kill(before[0]!, 'SIGKILL');
    await waitFor(
      async () => {
        const now = childrenOf(child.pid!);
        if (now.length !== 2 || now.includes(before[0]!)) return false;
        return (await get(`${adminUrl}/readyz`)).status === 200;
      },
      { timeoutMs: 20_000, what: 'a replacement worker' },
    );
    for (let i = 0; i < 4; i++) assert.equal((await get(`${url}/static/x`)).status, 200);
  });

  it('drains on SIGTERM and exits 0', async () => {
    const code = exited();
    child.kill('SIGTERM');
    assert.equal(await code, 0, stderr);
  });
});
