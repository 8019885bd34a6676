/**
 * What replicas must agree on, behind one interface:
 * - revoked sessions (sign_out, back-channel logout) – read on every request from a local
 *   {@link RevocationView}, never with a network round trip;
 * - one-time markers (a login `state`, a logout token's `jti`) – refused the second time;
 * - refresh coordination across replicas (shared stores only): see `src/oidc/refresh-replicas.ts`;
 * - server-side session records (`session.storage: store`): see `./session-records.ts`.
 *
 * `memory` serves one instance; `redis://…` (`./redis-store.ts`) implements the same interface
 * so every replica refuses a revoked session on its next request.
 */
import type { Limiter } from '../limits/limiter.ts';
import { LruCache } from '../util/lru.ts';
import { type RevocationEntry, RevocationView, type SessionRef } from './revocation-view.ts';
import { createMemorySessionRecords, type SessionRecords } from './session-records.ts';

export type { RevocationEntry, SessionRef } from './revocation-view.ts';
export type { SessionRecords, SessionSummary } from './session-records.ts';

/** The shared store cannot answer (Redis down, not yet synced, timed out). */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable' as const;
  constructor(op: string, options?: { cause?: unknown }) {
    super(`the shared store is unavailable (${op})`, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Operations counted in `gatehouse_store_errors_total{op}`. */
export type StoreOp = 'check' | 'revoke' | 'once' | 'refresh' | 'sync' | 'session' | 'limit';

/** Cross-replica refresh single-flight: a lock and a short-lived result slot per refresh token. */
export interface RefreshCoordinator {
  /** true when this replica now holds the lock (`SET NX PX`) */
  lock(key: string, ttlMs: number): Promise<boolean>;
  unlock(key: string): Promise<void>;
  put(key: string, value: string, ttlMs: number): Promise<void>;
  get(key: string): Promise<string | undefined>;
}

export interface SharedStore {
  /** `memory` or `redis` */
  readonly kind: 'memory' | 'redis';
  /** refuse session `id` until `untilEpochS` (its absolute lifetime end) */
  revoke(id: string, untilEpochS: number): Promise<void>;
  /** refuse every session of the IdP session (iss, sid) */
  revokeSid(iss: string, sid: string, untilEpochS: number): Promise<void>;
  /** refuse every session of (iss, sub) created at or before `beforeEpochS` */
  revokeSubject(iss: string, sub: string, beforeEpochS: number, untilEpochS: number): Promise<void>;
  /**
   * The hot-path check, synchronous, from the local view. `unavailable`: a shared store lost its
   * feed, so the view may miss revocations made elsewhere (the caller decides: fail closed or open).
   */
  check(session: SessionRef): 'ok' | 'revoked' | 'unavailable';
  /**
   * Mark `key` used for `ttlMs`: true the first time, false on every later call.
   * @throws StoreUnavailableError when a shared store cannot answer
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** present on shared stores only */
  readonly refresh?: RefreshCoordinator;
  /** session records and the per-subject index (`session.storage: store`) */
  readonly sessions: SessionRecords;
  /** rate-limit buckets every replica shares (shared stores only; else a memory limiter) */
  readonly limits?: Limiter;
  /** true when the local view is complete (always, for memory) */
  readonly synced: boolean;
  /** resolves true once synced, false after `timeoutMs` */
  whenSynced(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** One process: revocations and one-time markers in bounded maps that expire with their entries. */
export function createMemoryStore(maxEntries = 100_000): SharedStore {
  const view = new RevocationView(maxEntries);
  const once = new LruCache<true>(maxEntries);
  const add = async (e: RevocationEntry) => void view.add(e);
  return {
    kind: 'memory',
    revoke: (id, until) => add({ kind: 'session', id, until }),
    revokeSid: (iss, sid, until) => add({ kind: 'sid', iss, sid, until }),
    revokeSubject: (iss, sub, before, until) => add({ kind: 'subject', iss, sub, before, until }),
    check: (s) => (view.isRevoked(s) ? 'revoked' : 'ok'),
    async claimOnce(key, ttlMs) {
      if (once.get(key) === true) return false;
      once.set(key, true, Date.now() + ttlMs);
      return true;
    },
    sessions: createMemorySessionRecords(maxEntries),
    synced: true,
    whenSynced: async () => true,
    async close() {
      view.clear();
      once.clear();
    },
  };
}
