/**
 * `server.workers: auto | N`: N worker processes share the public listener through
 * `node:cluster` (the primary accepts and hands connections round-robin, so load spreads evenly
 * even with long keep-alive connections). The primary serves no traffic. It:
 * - forwards SIGHUP (reload) and SIGTERM/SIGINT (drain) to every worker, and exits once all of
 *   them have exited: 0 when every worker exited 0;
 * - restarts a worker that dies on its own, with exponential backoff (reset after a minute of
 *   healthy running); a worker that dies before the first start completed is fatal (exit 1),
 *   since a config or port problem would only crash-loop;
 * - runs the admin listener: /metrics merges every worker's registry with prom-client's
 *   `AggregatorRegistry`; /readyz asks every worker over IPC and is 200 only when all N are up
 *   and ready.
 *
 * Metrics: each worker labels its series `worker="<slot>"` (0…N-1; a restarted worker inherits
 * its slot). Summing counters across workers into one series would make a restart look like a
 * partial counter reset – Prometheus' rate() then counts the surviving workers' totals again as
 * new increase. Per-slot series reset cleanly, `sum without (worker)` gives the whole, and the
 * cardinality is N, not the number of restarts.
 * @see https://nodejs.org/api/cluster.html#how-it-works
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, Registry } from 'prom-client';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { createLogger, type Log } from '../observe/logger.ts';
import { serveAdmin, splitListen } from './admin.ts';
import type { Gatehouse, StartOptions } from './gatehouse.ts';

const SLOT_ENV = 'GATEHOUSE_WORKER_SLOT';
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** a worker that ran this long has its slot's backoff reset */
const HEALTHY_AFTER_MS = 60_000;
/** how long /readyz waits for a worker's answer */
const READY_TIMEOUT_MS = 2_000;

interface ReadyzMessage {
  gatehouse: 'readyz';
  id: number;
  ready?: boolean;
}

function isReadyz(msg: unknown): msg is ReadyzMessage {
  return typeof msg === 'object' && msg !== null && (msg as { gatehouse?: unknown }).gatehouse === 'readyz';
}

export function workerCount(setting: Config['server']['workers']): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

/**
 * In the primary: when the config asks for more than one worker, run the cluster until it is
 * stopped and resolve the exit code; resolve `undefined` when one process should serve alone.
 */
export async function runClusterIfConfigured(configFile: string): Promise<number | undefined> {
  let config: Config;
  try {
    config = (await loadConfig(configFile)).config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const n = workerCount(config.server.workers);
  if (n <= 1) return undefined;
  return runPrimary(config, n, createLogger({ level: config.log.level }));
}

/** In a worker: its own labelled registry, exported to the primary, and no admin listener. */
export function workerStartOptions(): Pick<StartOptions, 'registry' | 'admin'> {
  if (!cluster.isWorker) return {};
  const registry = new Registry();
  registry.setDefaultLabels({ worker: process.env[SLOT_ENV] ?? String(cluster.worker?.id ?? 0) });
  new AggregatorRegistry(); // installs the worker's answer to the primary's metrics requests
  AggregatorRegistry.setRegistries([registry]);
  // The IPC channel keeps the worker alive while it starts: some of the start (a shared
  // listen) is an IPC round trip that holds no other handle, so an unreferenced channel let the
  // event loop run dry and the worker exit 0 half-started. A failed start unrefs it (serve.ts).
  process.channel?.ref();
  return { registry, admin: false };
}

/**
 * In a worker: answer the primary's readiness questions, and stay alive while serving. A cluster
 * worker's listener is the primary's socket, which holds no event-loop reference here, so the
 * IPC channel does – until the drain is over. A no-op outside a worker.
 */
export function attachWorker(gh: Gatehouse): Gatehouse {
  if (!cluster.isWorker) return gh;
  process.on('message', (msg: unknown) => {
    if (isReadyz(msg) && msg.ready === undefined) {
      process.send?.({
        gatehouse: 'readyz',
        id: msg.id,
        ready: gh.current().ready(),
      } satisfies ReadyzMessage);
    }
  });
  process.channel?.ref();
  return {
    publicAddress: gh.publicAddress,
    adminAddress: gh.adminAddress,
    current: () => gh.current(),
    reload: () => gh.reload(),
    async shutdown() {
      try {
        await gh.shutdown();
      } finally {
        process.channel?.unref();
      }
    },
  };
}

function runPrimary(config: Config, n: number, log: Log): Promise<number> {
  const slots = new Map<Worker, { slot: number; startedAt: number }>();
  const backoff = new Array<number>(n).fill(0);
  const timers = new Set<NodeJS.Timeout>();
  const codes: number[] = [];
  let started = 0;
  let startupDone = false;
  let stopping = false;
  let nextId = 1;
  const pending = new Map<number, (ready: boolean) => void>();
  const aggregator = new AggregatorRegistry();

  const fork = (slot: number) => {
    const worker = cluster.fork({ [SLOT_ENV]: String(slot) });
    slots.set(worker, { slot, startedAt: Date.now() });
    worker.on('message', (msg: unknown) => {
      if (isReadyz(msg) && msg.ready !== undefined) pending.get(msg.id)?.(msg.ready);
    });
    // An IPC write to a worker that is exiting fails with EPIPE: the worker's 'exit' handling
    // deals with the worker; the supervisor itself must never crash on it.
    worker.on('error', (err) => log.warn({ err, slot }, 'worker IPC error'));
  };

  return new Promise<number>((resolve) => {
    let admin: Server | undefined;
    const finish = (code: number) => {
      for (const t of timers) clearTimeout(t);
      const done = () => resolve(code);
      if (admin?.listening) {
        admin.close(done);
        admin.closeAllConnections();
      } else done();
    };

    const stop = (signal: NodeJS.Signals, exitCode?: number) => {
      if (stopping) return;
      stopping = true;
      if (exitCode !== undefined) codes.push(exitCode);
      log.info({ signal, workers: slots.size }, 'stopping: draining every worker');
      for (const t of timers) clearTimeout(t);
      timers.clear();
      if (slots.size === 0) return finish(exitCode ?? 0);
      for (const w of slots.keys()) w.process.kill('SIGTERM');
      // Workers drain within shutdown_grace; one that hangs beyond it is killed (and counts as a failure).
      const killer = setTimeout(() => {
        for (const w of slots.keys()) w.process.kill('SIGKILL');
      }, config.server.shutdown_grace + 5_000);
      killer.unref();
      timers.add(killer);
    };

    cluster.on('listening', (worker) => {
      if (startupDone || !slots.has(worker)) return;
      if (++started === n) {
        startupDone = true;
        log.info({ workers: n }, 'all workers listening');
      }
    });

    cluster.on('exit', (worker, code, signal) => {
      const info = slots.get(worker);
      if (!info) return;
      slots.delete(worker);
      if (stopping) {
        codes.push(code ?? 1);
        if (slots.size === 0) finish(codes.every((c) => c === 0) ? 0 : 1);
        return;
      }
      if (!startupDone) {
        log.error({ worker: info.slot, exit_code: code, signal }, 'a worker failed to start: stopping');
        return stop('SIGTERM', 1);
      }
      const healthy = Date.now() - info.startedAt >= HEALTHY_AFTER_MS;
      backoff[info.slot] = healthy ? 0 : (backoff[info.slot] ?? 0) + 1;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, backoff[info.slot]! - 1));
      log.error(
        { worker: info.slot, exit_code: code, signal, restart_in_ms: delay },
        'worker died: restarting',
      );
      const t = setTimeout(() => {
        timers.delete(t);
        if (!stopping) fork(info.slot);
      }, delay);
      timers.add(t);
    });

    process.on('SIGHUP', () => {
      log.info({ workers: slots.size }, 'SIGHUP: reloading every worker');
      for (const w of slots.keys()) w.process.kill('SIGHUP');
    });
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));

    const askReady = (w: Worker) =>
      new Promise<boolean>((done) => {
        const id = nextId++;
        const timer = setTimeout(() => settle(false), READY_TIMEOUT_MS);
        const settle = (ready: boolean) => {
          clearTimeout(timer);
          pending.delete(id);
          done(ready);
        };
        pending.set(id, settle);
        if (!w.isConnected()) return settle(false);
        w.send({ gatehouse: 'readyz', id } satisfies ReadyzMessage, undefined, (err) => {
          if (err) settle(false);
        });
      });

    admin = createServer((req, res) => {
      serveAdmin(req, res, {
        metrics: () => aggregator.clusterMetrics(),
        contentType: aggregator.contentType,
        ready: async () => {
          if (stopping) return 'draining';
          if (slots.size < n) return `not ready: ${slots.size} of ${n} workers up`;
          const answers = await Promise.all([...slots.keys()].map(askReady));
          return answers.every(Boolean) ? 'ready' : 'not ready: waiting for IdP discovery or signing keys';
        },
        log,
      }).catch(() => res.destroy());
    });
    const { host, port } = splitListen(config.admin.listen);
    admin.once('error', (err) => {
      log.error({ err, listen: config.admin.listen }, 'admin listener failed');
      stop('SIGTERM', 1);
    });
    admin.listen({ host, port }, () => {
      log.info({ admin: config.admin.listen, workers: n }, 'gatehouse primary: starting workers');
      for (let slot = 0; slot < n; slot++) fork(slot);
    });
  });
}
