/**
 * One Gatehouse process: the public listener (proxy mode and `{prefix}/…` endpoints), the
 * admin listener (/healthz, /readyz, /metrics), config reload and graceful shutdown.
 *   load → shared parts → runtime → listen
 */
import cluster from 'node:cluster';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { type LoadedConfig, loadConfig, redactConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { ConfigError, formatProblem } from '../errors.ts';
import { createAuditLog } from '../observe/audit.ts';
import { createLogger, type Log } from '../observe/logger.ts';
import { createMetrics } from '../observe/metrics.ts';
import type { Runtime, Shared } from '../pipeline/runtime.ts';
import { createUpstreamProxy } from '../proxy/upstream-proxy.ts';
import { createSessionAdmin, type SessionAdmin } from '../session/session-admin.ts';
import { createStore } from '../store/create-store.ts';
import type { StoreOp } from '../store/store.ts';
import { createOutboundDispatcher } from '../util/outbound.ts';
import { listenOptions, serveAdmin, unixSocketPath } from './admin.ts';
import { buildRuntime, startRuntime } from './build-runtime.ts';
import { type ExtAuthzGrpcServer, startExtAuthzGrpc } from './ext-authz-grpc.ts';
import { createLiveState, type LiveState, type ProcessView, singleView } from './live-view.ts';
import { createPublicServer } from './public-server.ts';
import { applySocketMode, removeOwnSocket, removeStaleSocket } from './unix-socket.ts';

/** How long startup waits for a shared store's first sync before serving anyway. */
const STORE_STARTUP_WAIT_MS = 3000;

export interface Gatehouse {
  /** on a unix socket: `{ address: <path>, family: 'unix', port: 0 }` */
  readonly publicAddress: AddressInfo;
  readonly adminAddress: AddressInfo;
  /** Envoy's gRPC ext_authz service, when `ext_authz.grpc` is configured */
  readonly extAuthzGrpc?: Pick<ExtAuthzGrpcServer, 'address'>;
  /** the live runtime (tests and the admin listener read it) */
  current(): Runtime;
  /** this process's part of the admin live view; undefined when `admin.live_view` is off */
  liveView(): ProcessView | undefined;
  /** re-read the config file; an invalid config is refused and the old one keeps serving */
  reload(): Promise<{ ok: true } | { ok: false; error: ConfigError }>;
  /** stop accepting, let in-flight requests finish within the grace period, close */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  configFile: string;
  log?: Log;
  registry?: Registry;
  /** false: no admin listener here (a cluster worker: the primary serves admin for all) */
  admin?: boolean;
  /** the cluster worker slot, shown in the live view */
  worker?: number;
}

export async function startGatehouse(opts: StartOptions): Promise<Gatehouse> {
  const loaded = await loadConfig(opts.configFile);
  const { shared, live } = createShared(loaded.config, opts);
  // A shared store gets a moment to load the revocations, so the first requests are not refused.
  if (!(await shared.store.whenSynced(STORE_STARTUP_WAIT_MS)))
    shared.log.warn({}, 'shared store not reachable at startup; sessions are degraded until it is');
  const rt = await buildRuntime(loaded, shared);
  startRuntime(rt);
  shared.log.info({ config: redactConfig(loaded) }, 'effective config');
  const gatehouse = new GatehouseProcess(opts.configFile, shared, rt, live);
  await gatehouse.listen(opts.admin !== false);
  return gatehouse;
}

/**
 * The long-lived parts every runtime of this process shares, and the live view's state (it
 * outlives reloads too: `admin.live_view` and `admin.recent_decisions` are read at start).
 */
function createShared(
  config: LoadedConfig['config'],
  opts: StartOptions,
): { shared: Shared; live: LiveState | undefined } {
  const log = opts.log ?? createLogger({ level: config.log.level });
  const metrics = createMetrics(opts.registry ?? new Registry());
  const live = config.admin.live_view
    ? createLiveState({
        capacity: config.admin.recent_decisions,
        metrics,
        ...(opts.worker !== undefined ? { worker: opts.worker } : {}),
      })
    : undefined;
  const onError = (op: StoreOp) => {
    metrics.storeErrors.inc({ op });
    live?.noteStoreError(op);
  };
  const shared: Shared = {
    log,
    metrics,
    dispatcher: createOutboundDispatcher(),
    proxy: createUpstreamProxy({ logger: log }),
    audit: createAuditLog(config.audit.output),
    store: createStore(config.store, { log, onError }),
    ...(live ? { recent: live.recent } : {}),
  };
  return { shared, live };
}

class GatehouseProcess implements Gatehouse {
  readonly #configFile: string;
  readonly #shared: Shared;
  readonly #live: LiveState | undefined;
  #sessionAdmin_: { config: Config; admin: SessionAdmin } | undefined;
  /** the store is built once per process: a reload cannot swap it */
  readonly #storeConfig: string;
  #rt: Runtime;
  #draining = false;
  #reloading: Promise<unknown> = Promise.resolve();
  readonly #server: Server;
  readonly #admin: Server;
  publicAddress!: AddressInfo;
  adminAddress!: AddressInfo;
  /** the unix socket files this process created (path → inode), removed at shutdown */
  readonly #sockets = new Map<string, number>();
  /** Envoy's gRPC ext_authz service, when `ext_authz.grpc` is configured */
  extAuthzGrpc?: ExtAuthzGrpcServer;

  constructor(configFile: string, shared: Shared, rt: Runtime, live: LiveState | undefined) {
    this.#configFile = configFile;
    this.#shared = shared;
    this.#live = live;
    this.#storeConfig = rt.config.store;
    this.#rt = rt;
    this.#server = createPublicServer(rt.config, {
      current: () => this.#rt,
      draining: () => this.#draining,
      log: shared.log,
    });
    this.#admin = createHttpServer((req, res) => {
      serveAdmin(req, res, {
        ready: () => this.#readiness(),
        metrics: () => shared.metrics.registry.metrics(),
        contentType: shared.metrics.registry.contentType,
        log: shared.log,
        ...(live ? { live: () => singleView(live.view(this.#rt, this.#readiness())) } : {}),
        sessions: () => this.#sessionAdmin(),
      }).catch(() => res.destroy());
    });
  }

  /** The session admin of the current config (a reload may switch it off or change storage). */
  #sessionAdmin(): SessionAdmin | undefined {
    const config = this.#rt.config;
    if (!config.admin.sessions || !config.session) return undefined;
    if (this.#sessionAdmin_?.config !== config)
      this.#sessionAdmin_ = { config, admin: createSessionAdmin(config, this.#shared.store) };
    return this.#sessionAdmin_.admin;
  }

  current(): Runtime {
    return this.#rt;
  }

  liveView(): ProcessView | undefined {
    return this.#live?.view(this.#rt, this.#readiness());
  }

  async listen(withAdmin: boolean): Promise<void> {
    const config = this.#rt.config;
    const mode = config.server.socket_mode;
    await this.#listenOn(this.#server, config.server.listen, mode);
    if (withAdmin) await this.#listenOn(this.#admin, config.admin.listen, mode);
    this.publicAddress = addressOf(this.#server)!;
    // A process without an admin listener reports the public one's host with port 0.
    this.adminAddress = addressOf(this.#admin) ?? { ...this.publicAddress, port: 0 };
    const grpc = config.ext_authz.grpc;
    if (grpc)
      this.extAuthzGrpc = await startExtAuthzGrpc(grpc.listen, mode, () => this.#rt, this.#shared.log);
    this.#shared.log.info(
      { listen: describeAddress(this.publicAddress), admin: describeAddress(this.adminAddress) },
      'gatehouse listening',
    );
  }

  async #listenOn(server: Server, address: string, mode: number): Promise<void> {
    const path = unixSocketPath(address);
    // In a cluster the primary holds the socket (and cleared a stale file before forking): a
    // worker finding it live is the cluster itself.
    if (path !== undefined && !cluster.isWorker) await removeStaleSocket(path);
    await listen(server, address);
    if (path === undefined) return;
    const ino = applySocketMode(path, mode);
    if (!cluster.isWorker) this.#sockets.set(path, ino);
  }

  /** Reloads run one at a time; a refused config leaves the running one untouched. */
  reload(): Promise<{ ok: true } | { ok: false; error: ConfigError }> {
    const next = this.#reloading.then(() => this.#reloadOnce());
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  async #reloadOnce(): Promise<{ ok: true } | { ok: false; error: ConfigError }> {
    const { log, metrics } = this.#shared;
    let fresh: LoadedConfig;
    try {
      fresh = await loadConfig(this.#configFile);
    } catch (err) {
      const error = err instanceof ConfigError ? err : new ConfigError([]);
      metrics.configReloads.inc({ result: 'error' });
      this.#live?.noteReload('error', error.problems.map(formatProblem));
      log.error(
        { problems: error.problems.map(formatProblem) },
        'config reload refused; the previous config keeps serving',
      );
      return { ok: false, error };
    }
    const old = this.#rt;
    if (fresh.config.store !== this.#storeConfig)
      log.warn({}, 'store changes take effect at the next restart; the running store is kept');
    if (fresh.config.ext_authz.grpc?.listen !== old.config.ext_authz.grpc?.listen)
      log.warn({}, 'ext_authz.grpc.listen changes take effect at the next restart');
    const { live_view, recent_decisions } = fresh.config.admin;
    if (live_view !== old.config.admin.live_view || recent_decisions !== old.config.admin.recent_decisions)
      log.warn({}, 'admin.live_view and admin.recent_decisions changes take effect at the next restart');
    this.#rt = await buildRuntime(fresh, this.#shared, old);
    startRuntime(this.#rt);
    old.close();
    metrics.configReloads.inc({ result: 'success' });
    this.#live?.noteReload('success');
    log.info({ config: redactConfig(fresh) }, 'config reloaded');
    return { ok: true };
  }

  async shutdown(): Promise<void> {
    this.#draining = true;
    const grace = this.#rt.config.server.shutdown_grace;
    this.#shared.log.info({ grace_ms: grace }, 'shutting down: draining in-flight requests');
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const timer = setTimeout(() => this.#server.closeAllConnections(), grace);
    await Promise.all([closed, this.extAuthzGrpc?.close(grace)]);
    clearTimeout(timer);
    await new Promise<void>((resolve) => {
      if (this.#admin.listening) this.#admin.close(() => resolve());
      else resolve();
      this.#admin.closeAllConnections();
    });
    for (const [path, ino] of this.#sockets) removeOwnSocket(path, ino);
    this.#rt.close();
    this.#live?.close();
    const { proxy, store, audit, dispatcher } = this.#shared;
    proxy.close();
    await store.close();
    await audit.close();
    await (dispatcher as { close?: () => Promise<void> }).close?.();
  }

  #readiness(): string {
    if (this.#draining) return 'draining';
    return this.#rt.ready() ? 'ready' : 'not ready: waiting for IdP discovery or signing keys';
  }
}

function listen(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenOptions(address), () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A listening server's address; a unix socket's path becomes `{ address: path, family: 'unix', port: 0 }`. */
function addressOf(server: Server): AddressInfo | undefined {
  const a = server.address();
  if (a === null) return undefined;
  return typeof a === 'string' ? { address: a, family: 'unix', port: 0 } : a;
}

function describeAddress(a: AddressInfo): string {
  return a.family === 'unix' ? `unix:${a.address}` : `${a.address}:${a.port}`;
}
