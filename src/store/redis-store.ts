/**
 * The shared store on Redis (or Valkey), with node-redis.
 *
 * Revocations live in one sorted set (`gatehouse:revoked`, member = the entry, score = the
 * epoch second it may be forgotten) and are announced on the channel of the same name. Each
 * replica keeps the whole set in a local {@link RevocationView}: subscribe first, then load the
 * set, on every (re)connect – so no announcement falls in a gap – and then write its own entries
 * back (`ZADD GT`), so a revocation made while Redis was away (or after Redis lost its data)
 * reaches the others. The hot path never waits on Redis.
 *
 * Without both connections and a completed load the view is `unavailable`: the pipeline then
 * refuses sessions (`store_unavailable`, 503) unless `store_fail_open: true`. Commands fail
 * fast while disconnected (no offline queue) and time out after {@link COMMAND_TIMEOUT_MS};
 * reconnection is automatic, with capped backoff.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import type { Log } from '../observe/logger.ts';
import { entryKey, parseEntry, type RevocationEntry, RevocationView } from './revocation-view.ts';
import { type RefreshCoordinator, type SharedStore, type StoreOp, StoreUnavailableError } from './store.ts';

const COMMAND_TIMEOUT_MS = 1000;
const REVOKED = 'gatehouse:revoked';
const ONCE = 'gatehouse:once:';
const LOCK = 'gatehouse:refresh:lock:';
const RESULT = 'gatehouse:refresh:result:';
/** Most entries written back per command. */
const WRITE_BACK_BATCH = 500;

/** Add one entry, drop expired ones, announce it: one atomic round trip. */
const REVOKE_SCRIPT = `redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('PUBLISH', KEYS[1], ARGV[4])
return 1`;
/** Release a lock only if we still hold it. */
const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

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
  const log = opts.log.child({ component: 'store', store: redactRedisUrl(opts.url) });
  const view = new RevocationView(opts.maxEntries ?? 100_000);
  const onError = (op: StoreOp) => opts.onError?.(op);
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
  const main = createClient(options);
  const sub = createClient(options);
  let mainReady = false;
  let subReady = false;
  let subscribed = false;
  let loaded = false;
  let closed = false;
  let lostLogged = false;
  let syncing: Promise<void> | undefined;
  const waiters = new Set<() => void>();
  const token = randomBytes(12).toString('base64url');

  const isSynced = () => mainReady && subReady && subscribed && loaded;

  function lost(which: string, err?: unknown): void {
    if (which === 'main') mainReady = false;
    else subReady = false;
    if (loaded) {
      loaded = false;
      onError('sync');
    }
    if (!lostLogged && !closed) {
      lostLogged = true;
      log.error(
        { connection: which, reason: err instanceof Error ? err.message : undefined },
        'shared store unavailable: revocation checks are degraded until it returns',
      );
    }
  }

  function apply(message: string): void {
    try {
      // One entry, or a batch (a replica writing back after an outage).
      const parsed = JSON.parse(message) as { m: string; u: number } | Array<{ m: string; u: number }>;
      for (const { m, u } of Array.isArray(parsed) ? parsed : [parsed]) {
        const entry = parseEntry(m, u);
        if (entry) view.add(entry);
      }
    } catch {
      log.warn({}, 'ignored a malformed revocation announcement');
    }
  }

  async function load(): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const reply = await main.sendCommand<unknown[]>([
      'ZRANGE',
      REVOKED,
      String(now),
      '+inf',
      'BYSCORE',
      'WITHSCORES',
    ]);
    const remote = new Set<string>();
    for (const [member, score] of pairs(reply)) {
      const entry = parseEntry(member, score);
      if (entry) {
        view.add(entry);
        remote.add(member);
      }
    }
    // Write back what this replica knows and Redis does not (an outage, a flushed Redis).
    const missing = view.entries().filter((e) => !remote.has(entryKey(e)));
    for (let i = 0; i < missing.length; i += WRITE_BACK_BATCH) {
      const batch = missing.slice(i, i + WRITE_BACK_BATCH);
      const args = ['ZADD', REVOKED, 'GT'];
      for (const e of batch) args.push(String(e.until), entryKey(e));
      await main.sendCommand(args);
      // Replicas that resynchronised before this write-back learn of it here.
      await main.sendCommand([
        'PUBLISH',
        REVOKED,
        JSON.stringify(batch.map((e) => ({ m: entryKey(e), u: e.until }))),
      ]);
    }
    if (missing.length > 0)
      log.info({ entries: missing.length }, 'revocations written back to the shared store');
  }

  function sync(): Promise<void> {
    if (syncing || closed || !mainReady || !subReady) return syncing ?? Promise.resolve();
    syncing = (async () => {
      try {
        if (!subscribed) {
          await sub.subscribe(REVOKED, apply);
          subscribed = true;
        }
        await load();
        if (mainReady && subReady) {
          loaded = true;
          if (lostLogged) log.info({}, 'shared store available again; revocations resynchronised');
          lostLogged = false;
          for (const wake of waiters) wake();
        }
      } catch (err) {
        onError('sync');
        log.warn(
          { reason: err instanceof Error ? err.message : String(err) },
          'shared store sync failed; retrying',
        );
        setTimeout(() => void sync(), 500).unref();
      } finally {
        syncing = undefined;
      }
    })();
    return syncing;
  }

  main.on('error', (err: unknown) => lost('main', err));
  sub.on('error', (err: unknown) => lost('subscriber', err));
  main.on('end', () => lost('main'));
  sub.on('end', () => lost('subscriber'));
  main.on('ready', () => {
    mainReady = true;
    void sync();
  });
  sub.on('ready', () => {
    subReady = true;
    void sync();
  });
  main.connect().catch((err: unknown) => lost('main', err));
  sub.connect().catch((err: unknown) => lost('subscriber', err));

  async function run<T>(op: StoreOp, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      onError(op);
      throw new StoreUnavailableError(op, { cause: err });
    }
  }

  async function revoke(entry: RevocationEntry): Promise<void> {
    // Local first: this replica refuses the session even if Redis is away (and writes it back later).
    view.add(entry);
    const member = entryKey(entry);
    const now = Math.floor(Date.now() / 1000);
    await run('revoke', () =>
      main.sendCommand([
        'EVAL',
        REVOKE_SCRIPT,
        '1',
        REVOKED,
        String(entry.until),
        member,
        String(now),
        JSON.stringify({ m: member, u: entry.until }),
      ]),
    );
  }

  const refresh: RefreshCoordinator = {
    async lock(key, ttlMs) {
      const reply = await run('refresh', () =>
        main.sendCommand<string | null>(['SET', LOCK + key, token, 'NX', 'PX', String(ttlMs)]),
      );
      return reply === 'OK';
    },
    async unlock(key) {
      await run('refresh', () => main.sendCommand(['EVAL', UNLOCK_SCRIPT, '1', LOCK + key, token]));
    },
    async put(key, value, ttlMs) {
      await run('refresh', () => main.sendCommand(['SET', RESULT + key, value, 'PX', String(ttlMs)]));
    },
    async get(key) {
      const reply = await run('refresh', () => main.sendCommand<string | null>(['GET', RESULT + key]));
      return typeof reply === 'string' ? reply : undefined;
    },
  };

  return {
    kind: 'redis',
    revoke: (id, until) => revoke({ kind: 'session', id, until }),
    revokeSid: (iss, sid, until) => revoke({ kind: 'sid', iss, sid, until }),
    revokeSubject: (iss, sub, before, until) => revoke({ kind: 'subject', iss, sub, before, until }),
    check(s) {
      if (view.isRevoked(s)) return 'revoked';
      if (isSynced()) return 'ok';
      onError('check');
      return 'unavailable';
    },
    async claimOnce(key, ttlMs) {
      const reply = await run('once', () =>
        main.sendCommand<string | null>([
          'SET',
          ONCE + key,
          '1',
          'NX',
          'PX',
          String(Math.max(1, Math.ceil(ttlMs))),
        ]),
      );
      return reply === 'OK';
    },
    refresh,
    get synced() {
      return isSynced();
    },
    whenSynced(timeoutMs) {
      if (isSynced()) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(true);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          resolve(false);
        }, timeoutMs);
        timer.unref();
        waiters.add(wake);
      });
    },
    async close() {
      closed = true;
      for (const client of [sub, main]) {
        try {
          if (client.isOpen) await client.close();
        } catch {
          client.destroy();
        }
      }
      view.clear();
    },
  };
}

/** `ZRANGE … WITHSCORES` as (member, score) pairs: RESP3 nests them, RESP2 is flat. */
function pairs(reply: unknown[]): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  if (reply.length > 0 && Array.isArray(reply[0])) {
    for (const pair of reply as unknown[][]) out.push([String(pair[0]), Number(pair[1])]);
  } else {
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), Number(reply[i + 1])]);
  }
  return out;
}
