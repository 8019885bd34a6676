/**
 * The cluster primary (`server.workers` > 1, see `workers.ts`): forks one worker per slot,
 * restarts a worker that dies with exponential backoff, forwards SIGHUP and SIGTERM/SIGINT, and
 * serves the admin listener for all of them. It serves no traffic itself.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/schema.ts';
import type { Log } from '../observe/logger.ts';
import { listenOptions, serveAdmin, unixSocketPath } from './admin.ts';
import { type LiveView, mergeViews, type ProcessView } from './live-view.ts';
import { applySocketMode, removeOwnSocket, removeStaleSocket } from './unix-socket.ts';

/** The environment variable a worker learns its slot (0…N-1) from. */
export const SLOT_ENV = 'GATEHOUSE_WORKER_SLOT';
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** a worker that ran this long has its slot's backoff reset */
const HEALTHY_AFTER_MS = 60_000;
/** how long /readyz waits for a worker's answer */
const READY_TIMEOUT_MS = 2_000;

/** The primary's readiness question to a worker (`ready` absent) and the worker's answer. */
export interface ReadyzMessage {
  gatehouse: 'readyz';
  id: number;
  ready?: boolean;
}

export function isReadyz(msg: unknown): msg is ReadyzMessage {
  return typeof msg === 'object' && msg !== null && (msg as { gatehouse?: unknown }).gatehouse === 'readyz';
}

/**
 * The primary's live-view question to a worker (`view` absent) and the worker's answer: its own
 * part (`view` null when the worker has the live view off).
 */
export interface LiveMessage {
  gatehouse: 'live';
  id: number;
  view?: ProcessView | null;
}

export function isLive(msg: unknown): msg is LiveMessage {
  return typeof msg === 'object' && msg !== null && (msg as { gatehouse?: unknown }).gatehouse === 'live';
}

/** Runs the cluster until it is stopped; resolves the exit code (0 when every worker exited 0). */
export function runPrimary(config: Config, n: number, log: Log): Promise<number> {
  return new Promise<number>((resolve) => new Primary(config, n, log, resolve).start());
}

class Primary {
  readonly #config: Config;
  readonly #n: number;
  readonly #log: Log;
  readonly #resolve: (code: number) => void;
  readonly #slots = new Map<Worker, { slot: number; startedAt: number }>();
  readonly #backoff: number[];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #codes: number[] = [];
  readonly #pending = new Map<number, (ready: boolean) => void>();
  readonly #pendingLive = new Map<number, (view: ProcessView | undefined) => void>();
  readonly #aggregator = new AggregatorRegistry();
  readonly #admin: Server;
  #started = 0;
  #startupDone = false;
  #stopping = false;
  #nextId = 1;
  /** the admin listener's unix socket file (path, inode), removed when the primary finishes */
  #adminSocket: [string, number] | undefined;

  constructor(config: Config, n: number, log: Log, resolve: (code: number) => void) {
    this.#config = config;
    this.#n = n;
    this.#log = log;
    this.#resolve = resolve;
    this.#backoff = new Array<number>(n).fill(0);
    this.#admin = createServer((req, res) => {
      serveAdmin(req, res, {
        metrics: () => this.#aggregator.clusterMetrics(),
        contentType: this.#aggregator.contentType,
        ready: () => this.#readiness(),
        ...(config.admin.live_view ? { live: () => this.#liveView() } : {}),
        log,
      }).catch(() => res.destroy());
    });
  }

  start(): void {
    cluster.on('listening', (worker) => this.#onListening(worker));
    cluster.on('exit', (worker, code, signal) => this.#onExit(worker, code, signal));
    process.on('SIGHUP', () => {
      this.#log.info({ workers: this.#slots.size }, 'SIGHUP: reloading every worker');
      for (const w of this.#slots.keys()) w.process.kill('SIGHUP');
    });
    process.once('SIGTERM', () => this.#stop('SIGTERM'));
    process.once('SIGINT', () => this.#stop('SIGINT'));
    const listen = this.#config.admin.listen;
    this.#admin.once('error', (err) => {
      this.#log.error({ err, listen }, 'admin listener failed');
      this.#stop('SIGTERM', 1);
    });
    this.#clearStaleSockets().then(
      () =>
        this.#admin.listen(listenOptions(listen), () => {
          const path = unixSocketPath(listen);
          if (path !== undefined)
            this.#adminSocket = [path, applySocketMode(path, this.#config.server.socket_mode)];
          this.#log.info({ admin: listen, workers: this.#n }, 'gatehouse primary: starting workers');
          for (let slot = 0; slot < this.#n; slot++) this.#fork(slot);
        }),
      (err: unknown) => {
        this.#log.error({ err }, 'unix socket in use: not starting');
        this.#stop('SIGTERM', 1);
      },
    );
  }

  /**
   * The primary listens on the public socket for the workers (round-robin), so a stale file is
   * cleared once here: a worker finding the socket live is its own cluster.
   */
  async #clearStaleSockets(): Promise<void> {
    for (const address of [this.#config.server.listen, this.#config.admin.listen]) {
      const path = unixSocketPath(address);
      if (path !== undefined) await removeStaleSocket(path);
    }
  }

  #fork(slot: number): void {
    const worker = cluster.fork({ [SLOT_ENV]: String(slot) });
    this.#slots.set(worker, { slot, startedAt: Date.now() });
    worker.on('message', (msg: unknown) => {
      if (isReadyz(msg) && msg.ready !== undefined) this.#pending.get(msg.id)?.(msg.ready);
      if (isLive(msg) && msg.view !== undefined) this.#pendingLive.get(msg.id)?.(msg.view ?? undefined);
    });
    // An IPC write to a worker that is exiting fails with EPIPE: the worker's 'exit' handling
    // deals with the worker; the supervisor itself must never crash on it.
    worker.on('error', (err) => this.#log.warn({ err, slot }, 'worker IPC error'));
  }

  #onListening(worker: Worker): void {
    if (this.#startupDone || !this.#slots.has(worker)) return;
    if (++this.#started === this.#n) {
      this.#startupDone = true;
      this.#log.info({ workers: this.#n }, 'all workers listening');
    }
  }

  #onExit(worker: Worker, code: number | null, signal: string | null): void {
    const info = this.#slots.get(worker);
    if (!info) return;
    this.#slots.delete(worker);
    if (this.#stopping) {
      this.#codes.push(code ?? 1);
      if (this.#slots.size === 0) this.#finish(this.#codes.every((c) => c === 0) ? 0 : 1);
      return;
    }
    // A worker that dies before every worker started is a config or port problem: a restart
    // would only crash-loop.
    if (!this.#startupDone) {
      this.#log.error({ worker: info.slot, exit_code: code, signal }, 'a worker failed to start: stopping');
      this.#stop('SIGTERM', 1);
      return;
    }
    this.#restartLater(info, code, signal);
  }

  #restartLater(info: { slot: number; startedAt: number }, code: number | null, signal: string | null): void {
    const healthy = Date.now() - info.startedAt >= HEALTHY_AFTER_MS;
    const failures = healthy ? 0 : (this.#backoff[info.slot] ?? 0) + 1;
    this.#backoff[info.slot] = failures;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, failures - 1));
    this.#log.error(
      { worker: info.slot, exit_code: code, signal, restart_in_ms: delay },
      'worker died: restarting',
    );
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopping) this.#fork(info.slot);
    }, delay);
    this.#timers.add(t);
  }

  #stop(signal: NodeJS.Signals, exitCode?: number): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (exitCode !== undefined) this.#codes.push(exitCode);
    this.#log.info({ signal, workers: this.#slots.size }, 'stopping: draining every worker');
    this.#clearTimers();
    if (this.#slots.size === 0) {
      this.#finish(exitCode ?? 0);
      return;
    }
    for (const w of this.#slots.keys()) w.process.kill('SIGTERM');
    // Workers drain within shutdown_grace; one that hangs beyond it is killed (and counts as a failure).
    const killer = setTimeout(() => {
      for (const w of this.#slots.keys()) w.process.kill('SIGKILL');
    }, this.#config.server.shutdown_grace + 5_000);
    killer.unref();
    this.#timers.add(killer);
  }

  #finish(code: number): void {
    this.#clearTimers();
    const done = () => {
      if (this.#adminSocket) removeOwnSocket(...this.#adminSocket);
      this.#resolve(code);
    };
    if (this.#admin.listening) {
      this.#admin.close(done);
      this.#admin.closeAllConnections();
    } else done();
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  /** /readyz: 200 only when all N workers are up and each answers ready. */
  async #readiness(): Promise<string> {
    if (this.#stopping) return 'draining';
    if (this.#slots.size < this.#n) return `not ready: ${this.#slots.size} of ${this.#n} workers up`;
    const answers = await Promise.all([...this.#slots.keys()].map((w) => this.#askReady(w)));
    return answers.every(Boolean) ? 'ready' : 'not ready: waiting for IdP discovery or signing keys';
  }

  #askReady(w: Worker): Promise<boolean> {
    return this.#ask(w, this.#pending, (id) => ({ gatehouse: 'readyz', id }) satisfies ReadyzMessage, false);
  }

  /**
   * The live view of the whole cluster: every worker's part, asked over IPC as readiness is;
   * decisions and rates merged, IdP/config/store state per worker. A worker that does not answer
   * in time is listed as such.
   */
  async #liveView(): Promise<LiveView> {
    const workers = [...this.#slots].sort(([, a], [, b]) => a.slot - b.slot);
    const parts = await Promise.all(
      workers.map(async ([w, { slot }]) => ({
        worker: slot,
        view: await this.#ask(
          w,
          this.#pendingLive,
          (id) => ({ gatehouse: 'live', id }) satisfies LiveMessage,
          undefined,
        ),
      })),
    );
    return mergeViews(parts, this.#n);
  }

  /** One question to a worker over IPC; `fallback` when it cannot be sent or no answer comes in time. */
  #ask<T>(
    w: Worker,
    pending: Map<number, (answer: T) => void>,
    message: (id: number) => object,
    fallback: T,
  ): Promise<T> {
    return new Promise<T>((done) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => settle(fallback), READY_TIMEOUT_MS);
      const settle = (answer: T) => {
        clearTimeout(timer);
        pending.delete(id);
        done(answer);
      };
      pending.set(id, settle);
      if (!w.isConnected()) return settle(fallback);
      w.send(message(id), undefined, (err) => {
        if (err) settle(fallback);
      });
    });
  }
}
