/**
 * Cross-replica refresh single-flight on Redis (`src/oidc/refresh-replicas.ts` drives it): a lock per
 * refresh token (`SET NX PX`, holding this replica's random token so only the holder releases
 * it) and a short-lived slot for the result the holder shares with the others.
 */
import { randomBytes } from 'node:crypto';
import type { RefreshCoordinator, StoreOp } from './store.ts';

const LOCK = 'gatehouse:refresh:lock:';
const RESULT = 'gatehouse:refresh:result:';

/** Release a lock only if we still hold it. */
const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Sends one command, counting a failure under `op` and throwing StoreUnavailableError. */
export type Send = <T>(op: StoreOp, args: string[]) => Promise<T>;

export class RedisRefreshCoordinator implements RefreshCoordinator {
  readonly #send: Send;
  /** this replica's lock value: a lock that expired and was taken by another is not ours to drop */
  readonly #token = randomBytes(12).toString('base64url');

  constructor(send: Send) {
    this.#send = send;
  }

  async lock(key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#send<string | null>('refresh', [
      'SET',
      LOCK + key,
      this.#token,
      'NX',
      'PX',
      String(ttlMs),
    ]);
    return reply === 'OK';
  }

  async unlock(key: string): Promise<void> {
    await this.#send('refresh', ['EVAL', UNLOCK_SCRIPT, '1', LOCK + key, this.#token]);
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#send('refresh', ['SET', RESULT + key, value, 'PX', String(ttlMs)]);
  }

  async get(key: string): Promise<string | undefined> {
    const reply = await this.#send<string | null>('refresh', ['GET', RESULT + key]);
    return typeof reply === 'string' ? reply : undefined;
  }
}
