/**
 * The store a config names: `memory` (one instance) or `redis://…`/`rediss://…` (shared by
 * every replica). Created once per process; changing `store` takes a restart.
 */
import type { Log } from '../observe/logger.ts';
import { createRedisStore } from './redis-store.ts';
import { createMemoryStore, type SharedStore, type StoreOp } from './store.ts';

export function createStore(url: string, deps: { log: Log; onError?(op: StoreOp): void }): SharedStore {
  if (url === 'memory') return createMemoryStore();
  return createRedisStore({ url, log: deps.log, ...(deps.onError ? { onError: deps.onError } : {}) });
}
