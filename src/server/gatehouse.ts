/**
 * One Gatehouse process: the public listener (proxy mode and `{prefix}/…` endpoints), the
 * admin listener (/healthz, /readyz, /metrics), config reload and graceful shutdown.
 *   load → validate → build → listen
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Registry } from 'prom-client';
import { type LoadedConfig, loadConfig, redactConfig } from '../config/load.ts';
import { ConfigError } from '../errors.ts';
import { sendError } from '../http/send-error.ts';
import { createAuditLog } from '../observe/audit.ts';
import { createLogger, type Log } from '../observe/logger.ts';
import { createMetrics } from '../observe/metrics.ts';
import { handleRequest, handleUpgrade } from '../pipeline/handle-request.ts';
import { createUpstreamProxy } from '../proxy/upstream-proxy.ts';
import { createStore } from '../store/create-store.ts';
import { createOutboundDispatcher } from '../util/outbound.ts';
import { serveAdmin, splitListen } from './admin.ts';
import { buildRuntime, type Runtime, type Shared, startRuntime } from './runtime.ts';

/** How long startup waits for a shared store's first sync before serving anyway. */
const STORE_STARTUP_WAIT_MS = 3000;

export interface Gatehouse {
  readonly publicAddress: AddressInfo;
  readonly adminAddress: AddressInfo;
  /** the live runtime (tests and the admin listener read it) */
  current(): Runtime;
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
}

export async function startGatehouse(opts: StartOptions): Promise<Gatehouse> {
  const loaded = await loadConfig(opts.configFile);
  const config = loaded.config;
  const log = opts.log ?? createLogger({ level: config.log.level });
  const metrics = createMetrics(opts.registry ?? new Registry());
  const shared: Shared = {
    log,
    metrics,
    dispatcher: createOutboundDispatcher(),
    proxy: createUpstreamProxy({ logger: log }),
    audit: createAuditLog(config.audit.output),
    store: createStore(config.store, {
      log,
      onError: (op) => metrics.storeErrors.inc({ op }),
    }),
  };
  // A shared store gets a moment to load the revocations, so the first requests are not refused.
  if (!(await shared.store.whenSynced(STORE_STARTUP_WAIT_MS)))
    log.warn({}, 'shared store not reachable at startup; sessions are degraded until it is');
  let rt = await buildRuntime(loaded, shared);
  startRuntime(rt);
  log.info({ config: redactConfig(loaded) }, 'effective config');
  let draining = false;

  const onRequest: Parameters<typeof createHttpServer>[1] = (req, res) => {
    if (draining) res.setHeader('connection', 'close');
    handleRequest(req, res, rt).catch((err: unknown) => {
      log.error({ err }, 'request failed outside the pipeline');
      sendError(req, res, 'internal_error');
    });
  };
  const serverOptions = {
    maxHeaderSize: config.server.max_header_size,
    headersTimeout: config.server.headers_timeout,
    // node enforces headersTimeout only when it sweeps its connections, every 30 s by default: a
    // slowloris client got headers_timeout + 30 s. Sweep at a quarter of the timeout (issue-10).
    connectionsCheckingInterval: Math.max(
      250,
      Math.min(5_000, Math.floor(config.server.headers_timeout / 4)),
    ),
    requestTimeout: 0, // bodies stream for as long as the route allows; headers are bounded above
    keepAliveTimeout: 5_000,
  };
  const tls = config.server.tls;
  const server: Server = tls
    ? createHttpsServer(
        { ...serverOptions, cert: readFileSync(tls.cert_file), key: readFileSync(tls.key_file) },
        onRequest,
      )
    : createHttpServer(serverOptions, onRequest);
  server.on('upgrade', (req, socket, head) => {
    handleUpgrade(req, socket, head, rt).catch(() => socket.destroy());
  });
  // Gatehouse is not a forward proxy: CONNECT gets a clear 405 instead of a silent close.
  server.on('connect', (_req, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed requests, oversized headers and slow clients: a bare status, no details.
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    );
  });

  const admin = createHttpServer((req, res) => {
    serveAdmin(req, res, {
      ready: () =>
        draining ? 'draining' : rt.ready() ? 'ready' : 'not ready: waiting for IdP discovery or signing keys',
      metrics: () => metrics.registry.metrics(),
      contentType: metrics.registry.contentType,
      log,
    }).catch(() => res.destroy());
  });

  await listen(server, config.server.listen);
  if (opts.admin !== false) await listen(admin, config.admin.listen);
  const publicAddress = server.address() as AddressInfo;
  // A process without an admin listener reports the public one's host with port 0.
  const adminAddress = (admin.address() as AddressInfo | null) ?? { ...publicAddress, port: 0 };
  log.info(
    {
      listen: `${publicAddress.address}:${publicAddress.port}`,
      admin: `${adminAddress.address}:${adminAddress.port}`,
    },
    'gatehouse listening',
  );

  let reloading: Promise<unknown> = Promise.resolve();
  return {
    publicAddress,
    adminAddress,
    current: () => rt,
    reload() {
      const next = reloading.then(async () => {
        let fresh: LoadedConfig;
        try {
          fresh = await loadConfig(opts.configFile);
        } catch (err) {
          const error = err instanceof ConfigError ? err : new ConfigError([]);
          metrics.configReloads.inc({ result: 'error' });
          log.error(
            { problems: error.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.path}: ${p.message}`) },
            'config reload refused; the previous config keeps serving',
          );
          return { ok: false as const, error };
        }
        if (fresh.config.store !== config.store)
          log.warn({}, 'store changes take effect at the next restart; the running store is kept');
        const old = rt;
        rt = await buildRuntime(fresh, shared, old);
        startRuntime(rt);
        old.close();
        metrics.configReloads.inc({ result: 'success' });
        log.info({ config: redactConfig(fresh) }, 'config reloaded');
        return { ok: true as const };
      });
      reloading = next.catch(() => undefined);
      return next;
    },
    async shutdown() {
      draining = true;
      const grace = rt.config.server.shutdown_grace;
      log.info({ grace_ms: grace }, 'shutting down: draining in-flight requests');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), grace);
      await closed;
      clearTimeout(timer);
      await new Promise<void>((resolve) => {
        if (admin.listening) admin.close(() => resolve());
        else resolve();
        admin.closeAllConnections();
      });
      rt.close();
      shared.proxy.close();
      await shared.store.close();
      shared.audit.close();
      await (shared.dispatcher as { close?: () => Promise<void> }).close?.();
    },
  };
}

function listen(server: Server, address: string): Promise<void> {
  const { host, port } = splitListen(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
