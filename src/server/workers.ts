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
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, Registry } from 'prom-client';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { createLogger } from '../observe/logger.ts';
import {
  isLive,
  isReadyz,
  type LiveMessage,
  type ReadyzMessage,
  runPrimary,
  SLOT_ENV,
} from './cluster-primary.ts';
import type { Gatehouse, StartOptions } from './gatehouse.ts';

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
export function workerStartOptions(): Pick<StartOptions, 'registry' | 'admin' | 'worker'> {
  if (!cluster.isWorker) return {};
  const registry = new Registry();
  const slot = process.env[SLOT_ENV] ?? String(cluster.worker?.id ?? 0);
  registry.setDefaultLabels({ worker: slot });
  new AggregatorRegistry(); // installs the worker's answer to the primary's metrics requests
  AggregatorRegistry.setRegistries([registry]);
  // The IPC channel keeps the worker alive while it starts: some of the start (a shared
  // listen) is an IPC round trip that holds no other handle, so an unreferenced channel let the
  // event loop run dry and the worker exit 0 half-started. A failed start unrefs it (serve.ts).
  process.channel?.ref();
  return { registry, admin: false, worker: Number(slot) };
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
    if (isLive(msg) && msg.view === undefined)
      process.send?.({ gatehouse: 'live', id: msg.id, view: gh.liveView() ?? null } satisfies LiveMessage);
  });
  process.channel?.ref();
  return {
    publicAddress: gh.publicAddress,
    adminAddress: gh.adminAddress,
    current: () => gh.current(),
    liveView: () => gh.liveView(),
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
