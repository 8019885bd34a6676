/**
 * The shared store on Redis (or Valkey), with node-redis.
 *
 * Revocations live in one sorted set, announced on a channel (`./redis-revocations.ts`). Each
 * replica keeps the whole set in a local {@link RevocationView}: on every (re)connect it
 * subscribes first and then loads the set – so no announcement falls in a gap – and then writes
 * its own entries back, so a revocation made while Redis was away (or after Redis lost its
 * data) reaches the others. The hot path never waits on Redis.
 *
 * Without both connections and a completed load the view is `unavailable`: the pipeline then
 * refuses sessions (`store_unavailable`, 503) unless `store_fail_open: true`. Commands fail
 * fast while disconnected (no offline queue) and time out after {@link COMMAND_TIMEOUT_MS};
 * reconnection is automatic, with capped backoff.
 */
import { createClient } from 'redis';
import type { Limiter } from '../limits/limiter.ts';
import { createRedisLimiter } from '../limits/redis-limiter.ts';
import type { Log } from '../observe/logger.ts';
import { RedisRefreshCoordinator } from './redis-refresh.ts';
import {
  applyAnnouncement,
  type Commands,
  loadRevocations,
  REVOKED,
  revokeCommand,
  writeBack,
} from './redis-revocations.ts';
import { RedisSessionRecords } from './redis-session-records.ts';
import { type RevocationEntry, RevocationView, type SessionRef } from './revocation-view.ts';
import { type SharedStore, type StoreOp, StoreUnavailableError } from './store.ts';

const COMMAND_TIMEOUT_MS = 1000;
/** A failed sync is tried again after this long (the connections stay up meanwhile). */
const SYNC_RETRY_MS = 500;
const ONCE = 'gatehouse:once:';

export interface RedisStoreOptions {
  url: string;
  log: Log;
  onError?(op: StoreOp): void;
  maxEntries?: number;
}

/** The URL without credentials, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'redis://(unparseable)';
  }
}

export function createRedisStore(opts: RedisStoreOptions): SharedStore {
  return new RedisStore(opts);
}

type Client = ReturnType<typeof createClient>;
type Connection = 'main' | 'subscriber';

class RedisStore implements SharedStore {
  readonly kind = 'redis' as const;
  readonly refresh: RedisRefreshCoordinator;
  readonly sessions: RedisSessionRecords;
  readonly limits: Limiter;
  readonly #log: Log;
  readonly #onError: (op: StoreOp) => void;
  readonly #view: RevocationView;
  /** commands */
  readonly #main: Client;
  /** the announcement feed (a subscribed connection takes no other commands) */
  readonly #sub: Client;
  #mainReady = false;
  #subReady = false;
  #subscribed = false;
  #loaded = false;
  #closed = false;
  /** the outage was logged: log once per outage, and once when it ends */
  #lostLogged = false;
  #syncing: Promise<void> | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(opts: RedisStoreOptions) {
    this.#log = opts.log.child({ component: 'store', store: redactRedisUrl(opts.url) });
    this.#onError = (op) => opts.onError?.(op);
    this.#view = new RevocationView(opts.maxEntries ?? 100_000);
    const options = {
      url: opts.url,
      disableOfflineQueue: true,
      commandOptions: { timeout: COMMAND_TIMEOUT_MS },
      socket: {
        connectTimeout: 2000,
        // 50 ms, 100 ms, … capped at 1 s: a restarted Redis is found again within a second.
        reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 1000),
      },
    };
    this.#main = createClient(options);
    this.#sub = createClient(options);
    this.refresh = new RedisRefreshCoordinator((op, args) => this.#send(op, args));
    this.sessions = new RedisSessionRecords((op, args) => this.#send(op, args));
    // Raw: the limiter tells NOSCRIPT (retry with EVAL) from an outage, which the stage counts.
    this.limits = createRedisLimiter((args) => this.#main.sendCommand(args));
    this.#connect('main', this.#main);
    this.#connect('subscriber', this.#sub);
  }

  get synced(): boolean {
    return this.#mainReady && this.#subReady && this.#subscribed && this.#loaded;
  }

  revoke(id: string, until: number): Promise<void> {
    return this.#revoke({ kind: 'session', id, until });
  }

  revokeSid(iss: string, sid: string, until: number): Promise<void> {
    return this.#revoke({ kind: 'sid', iss, sid, until });
  }

  revokeSubject(iss: string, sub: string, before: number, until: number): Promise<void> {
    return this.#revoke({ kind: 'subject', iss, sub, before, until });
  }

  check(session: SessionRef): 'ok' | 'revoked' | 'unavailable' {
    if (this.#view.isRevoked(session)) return 'revoked';
    if (this.synced) return 'ok';
    this.#onError('check');
    return 'unavailable';
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const ttl = String(Math.max(1, Math.ceil(ttlMs)));
    const reply = await this.#send<string | null>('once', ['SET', ONCE + key, '1', 'NX', 'PX', ttl]);
    return reply === 'OK';
  }

  whenSynced(timeoutMs: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      this.#waiters.add(wake);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const client of [this.#sub, this.#main]) {
      try {
        if (client.isOpen) await client.close();
      } catch {
        client.destroy();
      }
    }
    this.#view.clear();
  }

  /** Connect: each connection resyncs when it becomes ready and marks the view stale when lost. */
  #connect(which: Connection, client: Client): void {
    client.on('error', (err: unknown) => this.#lost(which, err));
    client.on('end', () => this.#lost(which));
    client.on('ready', () => {
      if (which === 'main') this.#mainReady = true;
      else this.#subReady = true;
      void this.#sync();
    });
    client.connect().catch((err: unknown) => this.#lost(which, err));
  }

  #lost(which: Connection, err?: unknown): void {
    if (which === 'main') this.#mainReady = false;
    else this.#subReady = false;
    if (this.#loaded) {
      this.#loaded = false;
      this.#onError('sync');
    }
    if (!this.#lostLogged && !this.#closed) {
      this.#lostLogged = true;
      this.#log.error(
        { connection: which, reason: err instanceof Error ? err.message : undefined },
        'shared store unavailable: revocation checks are degraded until it returns',
      );
    }
  }

  /**
   * Once both connections are ready: subscribe to the feed, then the initial sync, then the
   * write-back. One at a time; a failure is retried while the connections stay up.
   */
  #sync(): Promise<void> {
    if (this.#syncing || this.#closed || !this.#mainReady || !this.#subReady)
      return this.#syncing ?? Promise.resolve();
    this.#syncing = (async () => {
      try {
        await this.#subscribeFeed();
        const main: Commands = this.#main;
        const remote = await loadRevocations(main, this.#view);
        const written = await writeBack(main, this.#view, remote);
        if (written > 0) this.#log.info({ entries: written }, 'revocations written back to the shared store');
        // A connection lost meanwhile leaves the view stale: its 'ready' syncs again.
        if (this.#mainReady && this.#subReady) this.#markSynced();
      } catch (err) {
        this.#onError('sync');
        this.#log.warn(
          { reason: err instanceof Error ? err.message : String(err) },
          'shared store sync failed; retrying',
        );
        setTimeout(() => void this.#sync(), SYNC_RETRY_MS).unref();
      } finally {
        this.#syncing = undefined;
      }
    })();
    return this.#syncing;
  }

  /** Subscription feed, once: node-redis resubscribes by itself after a reconnect. */
  async #subscribeFeed(): Promise<void> {
    if (this.#subscribed) return;
    await this.#sub.subscribe(REVOKED, (message) => applyAnnouncement(this.#view, message, this.#log));
    this.#subscribed = true;
  }

  #markSynced(): void {
    this.#loaded = true;
    if (this.#lostLogged) this.#log.info({}, 'shared store available again; revocations resynchronised');
    this.#lostLogged = false;
    for (const wake of this.#waiters) wake();
  }

  async #revoke(entry: RevocationEntry): Promise<void> {
    // Local first: this replica refuses the session even if Redis is away (and writes it back later).
    this.#view.add(entry);
    await this.#send('revoke', revokeCommand(entry));
  }

  /** One command; any failure is counted under `op` and surfaces as StoreUnavailableError. */
  async #send<T>(op: StoreOp, args: string[]): Promise<T> {
    try {
      return await this.#main.sendCommand<T>(args);
    } catch (err) {
      this.#onError(op);
      throw new StoreUnavailableError(op, { cause: err });
    }
  }
}
