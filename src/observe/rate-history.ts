/**
 * Request and deny rates per route for the admin live view's sparklines: once a second the
 * `gatehouse_requests_total{route,decision}` counter is read from the in-process prom-client
 * registry and the increase since the previous reading is kept, the last `length` seconds per
 * route. Nothing is added to the request path: the counter is incremented there anyway.
 */
import type { Counter } from 'prom-client';

/** Totals per route at one reading: every request, and those decided `deny`. */
export type RouteTotals = ReadonlyMap<string, { readonly requests: number; readonly denied: number }>;

export interface RateSeries {
  /** seconds between samples */
  readonly interval_s: number;
  /** epoch ms of the newest sample (0 before the first increase was measured) */
  readonly end: number;
  /** per route, oldest first, aligned to `end`: increases per interval */
  readonly routes: Record<string, { readonly requests: number[]; readonly denied: number[] }>;
}

export interface RateHistory {
  /** Take one reading (the timer calls it every interval; tests call it directly). */
  sample(now?: number): Promise<void>;
  series(): RateSeries;
  /** sample every interval until {@link RateHistory.stop}; the timer keeps no process alive */
  start(): void;
  stop(): void;
}

export interface RateHistoryOptions {
  /** the current totals; `totalsOf(metrics.requests)` in production */
  read(): RouteTotals | Promise<RouteTotals>;
  /** samples kept per route (default 120: two minutes) */
  length?: number;
  intervalMs?: number;
}

/** The totals of `gatehouse_requests_total`, by route. */
export function totalsOf(requests: Counter<'route' | 'decision'>): () => Promise<RouteTotals> {
  return async () => {
    const totals = new Map<string, { requests: number; denied: number }>();
    for (const { labels, value } of (await requests.get()).values) {
      const route = String(labels.route);
      const t = totals.get(route) ?? { requests: 0, denied: 0 };
      t.requests += value;
      if (labels.decision === 'deny') t.denied += value;
      totals.set(route, t);
    }
    return totals;
  };
}

export function createRateHistory(opts: RateHistoryOptions): RateHistory {
  const length = opts.length ?? 120;
  const intervalMs = opts.intervalMs ?? 1000;
  let previous: RouteTotals | undefined;
  let samples = 0;
  let end = 0;
  const routes = new Map<string, { requests: number[]; denied: number[] }>();
  let timer: NodeJS.Timeout | undefined;

  const push = (list: number[], v: number) => {
    list.push(v);
    if (list.length > length) list.shift();
  };

  const history: RateHistory = {
    async sample(now = Date.now()) {
      const totals = await opts.read();
      const before = previous;
      previous = totals;
      if (before === undefined) return; // the first reading is the baseline
      samples++;
      end = now;
      for (const route of totals.keys()) {
        if (!routes.has(route)) {
          // A route first seen now had no requests in the samples before.
          const zeros = new Array<number>(Math.min(samples - 1, length)).fill(0);
          routes.set(route, { requests: [...zeros], denied: [...zeros] });
        }
      }
      for (const [route, series] of routes) {
        const t = totals.get(route) ?? { requests: 0, denied: 0 };
        const b = before.get(route) ?? { requests: 0, denied: 0 };
        // A counter below its last reading was reset (a fresh registry): all of it is new.
        push(series.requests, t.requests >= b.requests ? t.requests - b.requests : t.requests);
        push(series.denied, t.denied >= b.denied ? t.denied - b.denied : t.denied);
      }
    },
    series() {
      const out: Record<string, { requests: number[]; denied: number[] }> = {};
      for (const [route, s] of routes) out[route] = { requests: [...s.requests], denied: [...s.denied] };
      return { interval_s: intervalMs / 1000, end, routes: out };
    },
    start() {
      if (timer) return;
      const tick = () =>
        void history.sample().catch(() => {
          // A failed reading leaves a gap in the chart, nothing more.
        });
      tick();
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
  return history;
}
