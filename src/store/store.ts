/**
 * What replicas must agree on, behind one interface: revoked sessions (sign_out and
 * back-channel logout). `memory` serves one instance; a shared store implements the same
 * interface so every replica refuses a revoked session on its next request.
 */
import { LruCache } from '../util/lru.ts';

export interface RevocationStore {
  /** refuse session `id` until `untilEpochS` (its absolute lifetime end) */
  revoke(id: string, untilEpochS: number): Promise<void>;
  isRevoked(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** One process: a bounded map whose entries expire when the revoked session would have. */
export function createMemoryStore(maxEntries = 100_000): RevocationStore {
  const revoked = new LruCache<true>(maxEntries);
  return {
    async revoke(id, untilEpochS) {
      revoked.set(id, true, untilEpochS * 1000);
    },
    async isRevoked(id) {
      return revoked.get(id) === true;
    },
    async close() {
      revoked.clear();
    },
  };
}
