/**
 * The limiter interface: take one token from the bucket `key` under `policy`. `memory` holds
 * buckets in this process (`./memory-limiter.ts`); `redis` keeps them in the shared store so
 * every replica draws from the same bucket (`./redis-limiter.ts`).
 */
import type { BucketPolicy, TakeResult } from './bucket.ts';

export type LimitOutcome = Omit<TakeResult, 'state'>;

export interface Limiter {
  readonly kind: 'memory' | 'redis';
  /**
   * @param key already hashed (`./limit-key.ts`): raw identities never reach a store
   * @throws when a shared store cannot answer (the caller applies `on_store_error`)
   */
  take(key: string, policy: BucketPolicy): Promise<LimitOutcome>;
  /** buckets held in memory (memory limiter only) */
  readonly size?: number;
}

/**
 * The limiter for a store: the shared store's own buckets, or one memory limiter per store
 * object – the store lives as long as the process, so buckets survive a config reload.
 */
export function limiterFor(store: { readonly limits?: Limiter }, create: () => Limiter): Limiter {
  if (store.limits) return store.limits;
  let limiter = memoryLimiters.get(store);
  if (limiter === undefined) {
    limiter = create();
    memoryLimiters.set(store, limiter);
  }
  return limiter;
}
const memoryLimiters = new WeakMap<object, Limiter>();
