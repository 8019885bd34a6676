/**
 * The one-process limiter: buckets in a bounded map. A bucket is dropped once it would be full
 * (forgetting a full bucket changes no answer), and when the map is at its bound the least
 * recently used bucket goes first – the cost of that is a client granted up to one extra burst,
 * never one refused wrongly.
 */

import { LruCache } from '../util/lru.ts';
import { type BucketPolicy, type BucketState, take, timeToFull } from './bucket.ts';
import type { Limiter, LimitOutcome } from './limiter.ts';

export function createMemoryLimiter(maxBuckets = 100_000, clock: () => number = Date.now): Limiter {
  const buckets = new LruCache<BucketState>(maxBuckets);
  return {
    kind: 'memory',
    async take(key: string, p: BucketPolicy): Promise<LimitOutcome> {
      const now = clock();
      const r = take(buckets.get(key, now), now, p);
      buckets.set(key, r.state, now + timeToFull(r.state, p));
      return r;
    },
    get size() {
      return buckets.size;
    },
  };
}
