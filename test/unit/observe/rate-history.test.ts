import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createMetrics } from '../../../src/observe/metrics.ts';
import { createRateHistory, type RouteTotals, totalsOf } from '../../../src/observe/rate-history.ts';
import { mergeViews, type ProcessView, sumRates } from '../../../src/server/live-view.ts';

/** A history over totals the test sets by hand. */
function scripted(length?: number) {
  let totals = new Map<string, { requests: number; denied: number }>();
  const history = createRateHistory({ read: () => totals, ...(length ? { length } : {}) });
  return {
    history,
    set(next: Record<string, [number, number]>) {
      totals = new Map(Object.entries(next).map(([r, [requests, denied]]) => [r, { requests, denied }]));
    },
  };
}

describe('rate history', () => {
  it('keeps the increase per interval, per route, after a baseline reading', async () => {
    const { history, set } = scripted();
    set({ app: [10, 1] });
    await history.sample(1000); // baseline
    assert.deepEqual(history.series(), { interval_s: 1, end: 0, routes: {} });
    set({ app: [15, 3] });
    await history.sample(2000);
    set({ app: [15, 3] });
    await history.sample(3000);
    set({ app: [22, 7] });
    await history.sample(4000);
    assert.deepEqual(history.series(), {
      interval_s: 1,
      end: 4000,
      routes: { app: { requests: [5, 0, 7], denied: [2, 0, 4] } },
    });
  });

  it('pads a route first seen later with zeros, so every series ends at the same sample', async () => {
    const { history, set } = scripted();
    set({ app: [0, 0] });
    await history.sample(0);
    set({ app: [2, 0] });
    await history.sample(1000);
    set({ app: [3, 0], api: [4, 4] });
    await history.sample(2000);
    assert.deepEqual(history.series().routes, {
      app: { requests: [2, 1], denied: [0, 0] },
      api: { requests: [0, 4], denied: [0, 4] },
    });
  });

  it('keeps at most `length` samples', async () => {
    const { history, set } = scripted(3);
    for (let i = 0; i <= 10; i++) {
      set({ app: [i * i, 0] });
      await history.sample(i * 1000);
    }
    // increases 2i-1 for i = 8, 9, 10
    assert.deepEqual(history.series().routes.app?.requests, [15, 17, 19]);
  });

  it('treats a counter below its last reading as reset: all of it is new', async () => {
    const { history, set } = scripted();
    set({ app: [100, 50] });
    await history.sample(0);
    set({ app: [3, 1] });
    await history.sample(1000);
    assert.deepEqual(history.series().routes.app, { requests: [3], denied: [1] });
  });

  it('reads gatehouse_requests_total by route, denies being decision="deny"', async () => {
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    metrics.requests.inc({ route: 'app', decision: 'allow' }, 3);
    metrics.requests.inc({ route: 'app', decision: 'deny' }, 2);
    metrics.requests.inc({ route: 'app', decision: 'login' });
    metrics.requests.inc({ route: 'api', decision: 'deny' });
    const totals: RouteTotals = await totalsOf(metrics.requests)();
    assert.deepEqual(Object.fromEntries(totals), {
      app: { requests: 6, denied: 2 },
      api: { requests: 1, denied: 1 },
    });
    const history = createRateHistory({ read: totalsOf(metrics.requests) });
    await history.sample(0);
    metrics.requests.inc({ route: 'app', decision: 'deny' }, 4);
    await history.sample(1000);
    assert.deepEqual(history.series().routes.app, { requests: [4], denied: [4] });
    assert.deepEqual(history.series().routes.api, { requests: [0], denied: [0] });
  });
});

describe('cluster merge', () => {
  it('sums the workers’ rates aligned on the newest sample', () => {
    const a = { interval_s: 1, end: 10_000, routes: { app: { requests: [1, 2, 3], denied: [0, 1, 0] } } };
    // one second behind (its last tick was before a's)
    const b = { interval_s: 1, end: 9_000, routes: { app: { requests: [10, 20], denied: [5, 5] } } };
    const none = { interval_s: 1, end: 0, routes: {} };
    assert.deepEqual(sumRates([a, b, none]), {
      interval_s: 1,
      end: 10_000,
      routes: { app: { requests: [11, 22, 3], denied: [5, 6, 0] } },
    });
  });

  it('merges decisions by time (tagged with the worker), keeps the newest, lists a silent worker', () => {
    const part = (worker: number, times: number[]): ProcessView => ({
      decisions: times.map((time, i) => ({
        request_id: `w${worker}-${i}`,
        method: 'GET',
        host: 'h',
        path: '/',
        client_ip: '127.0.0.1',
        decision: 'deny',
        reason: 'policy_denied',
        status: 403,
        duration_ms: 1,
        time,
        seq: i + 1,
      })),
      capacity: 3,
      rates: { interval_s: 1, end: 0, routes: {} },
      status: {
        pid: 100 + worker,
        started_at: 1,
        ready: 'ready',
        idps: [],
        bearer: [],
        config: { loaded_at: 1 },
        store: { kind: 'memory', synced: true, errors: 0 },
      },
    });
    const view = mergeViews(
      [
        { worker: 0, view: part(0, [1, 4, 6]) },
        { worker: 1, view: part(1, [2, 5]) },
        { worker: 2, view: undefined },
      ],
      3,
      99,
    );
    assert.equal(view.mode, 'cluster');
    assert.equal(view.workers, 3);
    assert.deepEqual(
      view.decisions.map((d) => [d.worker, d.time]),
      [
        [0, 4],
        [1, 5],
        [0, 6],
      ],
    );
    assert.deepEqual(
      view.processes.map((p) => [p.worker, p.ready, p.error]),
      [
        [0, 'ready', undefined],
        [1, 'ready', undefined],
        [2, 'no answer', 'no answer'],
      ],
    );
  });
});
