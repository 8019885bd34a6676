/**
 * The admin live view's data (`/live.json`): the last decisions (`observe/recent-decisions.ts`),
 * request and deny rates per route (`observe/rate-history.ts`), and the state of what a request
 * depends on – each IdP's discovery and keys, each bearer issuer's keys, the last config reload,
 * the shared store. Everything here is state, never a credential: no token, cookie, session id,
 * client secret or key material is read, so none can be served.
 *
 * In a cluster each worker builds its own {@link ProcessView}; the primary asks every worker over
 * IPC and merges them with {@link mergeViews} (decisions by time, rates summed per second).
 */
import type { Metrics } from '../observe/metrics.ts';
import { createRateHistory, type RateHistory, type RateSeries, totalsOf } from '../observe/rate-history.ts';
import {
  createRecentDecisions,
  type RecentDecision,
  type RecentDecisions,
} from '../observe/recent-decisions.ts';
import type { OidcClientStatus } from '../oidc/oidc-client.ts';
import type { Runtime } from '../pipeline/runtime.ts';
import type { StoreOp } from '../store/store.ts';
import type { JwksStatus } from '../tokens/jwks-cache.ts';

/** Config problems shown for a refused reload, at most. */
const MAX_PROBLEMS = 20;

export interface ProcessStatus {
  /** the worker slot, in a cluster */
  worker?: number;
  pid: number;
  started_at: number;
  /** `ready`, or why not (as /readyz says) */
  ready: string;
  idps: ({ name: string } & OidcClientStatus)[];
  bearer: { issuer: string; keys: JwksStatus }[];
  config: {
    loaded_at: number;
    last_reload?: { at: number; result: 'success' | 'error'; problems?: string[] };
  };
  store: { kind: string; synced: boolean; errors: number; last_error?: { op: StoreOp; at: number } };
  /** the worker did not answer (cluster) */
  error?: string;
}

/** One process's part: what the primary receives from a worker over IPC. */
export interface ProcessView {
  decisions: RecentDecision[];
  capacity: number;
  rates: RateSeries;
  status: ProcessStatus;
}

export interface LiveView {
  generated_at: number;
  mode: 'single' | 'cluster';
  /** configured workers (cluster) */
  workers?: number;
  /** oldest first; `worker` set in a cluster */
  decisions: (RecentDecision & { worker?: number })[];
  capacity: number;
  rates: RateSeries;
  processes: ProcessStatus[];
}

/** What one process keeps for its live view, across reloads. */
export interface LiveState {
  readonly recent: RecentDecisions;
  readonly rates: RateHistory;
  noteReload(result: 'success' | 'error', problems?: readonly string[]): void;
  noteStoreError(op: StoreOp): void;
  view(rt: Runtime, ready: string): ProcessView;
  close(): void;
}

export function createLiveState(opts: { capacity: number; metrics: Metrics; worker?: number }): LiveState {
  const recent = createRecentDecisions(opts.capacity);
  const rates = createRateHistory({ read: totalsOf(opts.metrics.requests) });
  const startedAt = Date.now();
  const loadedAt = startedAt;
  let lastLoad = loadedAt;
  let lastReload: ProcessStatus['config']['last_reload'];
  let storeErrors = 0;
  let lastStoreError: { op: StoreOp; at: number } | undefined;
  rates.start();
  return {
    recent,
    rates,
    noteReload(result, problems) {
      const at = Date.now();
      if (result === 'success') lastLoad = at;
      lastReload = {
        at,
        result,
        ...(problems?.length ? { problems: problems.slice(0, MAX_PROBLEMS) } : {}),
      };
    },
    noteStoreError(op) {
      storeErrors++;
      lastStoreError = { op, at: Date.now() };
    },
    view(rt, ready) {
      return {
        decisions: recent.list(),
        capacity: recent.capacity,
        rates: rates.series(),
        status: {
          ...(opts.worker !== undefined ? { worker: opts.worker } : {}),
          pid: process.pid,
          started_at: startedAt,
          ready,
          idps: [...rt.oidcClients].map(([name, c]) => ({ name, ...c.status() })),
          bearer: rt.bearer?.status() ?? [],
          config: { loaded_at: lastLoad, ...(lastReload ? { last_reload: lastReload } : {}) },
          store: {
            kind: rt.store.kind,
            synced: rt.store.synced,
            errors: storeErrors,
            ...(lastStoreError ? { last_error: lastStoreError } : {}),
          },
        },
      };
    },
    close: () => rates.stop(),
  };
}

/** A single process's view. */
export function singleView(part: ProcessView, now = Date.now()): LiveView {
  return {
    generated_at: now,
    mode: 'single',
    decisions: part.decisions,
    capacity: part.capacity,
    rates: part.rates,
    processes: [part.status],
  };
}

/**
 * The cluster's view from each worker's part (`undefined`: it did not answer): decisions of all
 * workers by time, newest `capacity` kept; rates summed per second across workers.
 */
export function mergeViews(
  parts: readonly { worker: number; view: ProcessView | undefined }[],
  expected: number,
  now = Date.now(),
): LiveView {
  const answered = parts.filter((p): p is { worker: number; view: ProcessView } => p.view !== undefined);
  const capacity = Math.max(0, ...answered.map((p) => p.view.capacity));
  const decisions = answered
    .flatMap((p) => p.view.decisions.map((d) => ({ ...d, worker: p.worker })))
    .sort((a, b) => a.time - b.time)
    .slice(-capacity);
  return {
    generated_at: now,
    mode: 'cluster',
    workers: expected,
    decisions,
    capacity,
    rates: sumRates(answered.map((p) => p.view.rates)),
    processes: parts.map((p) =>
      p.view ? { ...p.view.status, worker: p.worker } : { ...emptyStatus(p.worker), error: 'no answer' },
    ),
  };
}

/** Series of several processes added up, aligned on whole intervals before the newest end. */
export function sumRates(all: readonly RateSeries[]): RateSeries {
  const withData = all.filter((s) => s.end > 0);
  if (withData.length === 0) return { interval_s: all[0]?.interval_s ?? 1, end: 0, routes: {} };
  const interval = (withData[0] as RateSeries).interval_s * 1000;
  const end = Math.max(...withData.map((s) => s.end));
  const length = Math.max(...withData.flatMap((s) => Object.values(s.routes).map((r) => r.requests.length)));
  const routes: Record<string, { requests: number[]; denied: number[] }> = {};
  for (const s of withData) {
    // How many intervals older than the newest end this series' last sample is.
    const lag = Math.round((end - s.end) / interval);
    for (const [route, r] of Object.entries(s.routes)) {
      routes[route] ??= {
        requests: new Array<number>(length).fill(0),
        denied: new Array<number>(length).fill(0),
      };
      const out = routes[route];
      for (let k = 0; k < r.requests.length; k++) {
        const at = length - 1 - lag - (r.requests.length - 1 - k);
        if (at < 0 || at >= length) continue;
        out.requests[at] = (out.requests[at] as number) + (r.requests[k] as number);
        out.denied[at] = (out.denied[at] as number) + (r.denied[k] as number);
      }
    }
  }
  return { interval_s: interval / 1000, end, routes };
}

function emptyStatus(worker: number): ProcessStatus {
  return {
    worker,
    pid: 0,
    started_at: 0,
    ready: 'no answer',
    idps: [],
    bearer: [],
    config: { loaded_at: 0 },
    store: { kind: 'unknown', synced: false, errors: 0 },
  };
}
