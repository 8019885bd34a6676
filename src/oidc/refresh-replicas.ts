/**
 * Refresh single-flight across replicas, on a shared store's lock and result slot
 * (`./refresh-share.ts` seals the result): one lock per refresh token; its winner refreshes and
 * publishes the result, the others wait for it instead of spending the rotated token again.
 */
import { GatehouseError } from '../errors.ts';
import type { Log } from '../observe/logger.ts';
import type { SessionData } from '../session/session-data.ts';
import type { RefreshCoordinator } from '../store/store.ts';
import { openResult, type SharedResultKey, sealResult, sharedResultKey } from './refresh-share.ts';

/** Cross-replica lock: longer than any token request (oidc.timeout is capped by the IdP's answer). */
const LOCK_MS = 15_000;
const WAIT_MS = 5_000;
const POLL_MS = 50;
const MAX_POLLS = 400;

export interface ReplicaSingleFlightOptions {
  coordinator: RefreshCoordinator;
  log: Log;
  /** how long a replica that lost the lock waits for the winner's result (default 5 s) */
  waitMs?: number | undefined;
  /** how long the winner's result stays readable */
  resultTtlMs: number;
}

export class ReplicaSingleFlight {
  readonly #store: RefreshCoordinator;
  readonly #log: Log;
  readonly #waitMs: number;
  readonly #resultTtlMs: number;

  constructor(opts: ReplicaSingleFlightOptions) {
    this.#store = opts.coordinator;
    this.#log = opts.log;
    this.#waitMs = opts.waitMs ?? WAIT_MS;
    this.#resultTtlMs = opts.resultTtlMs;
  }

  /**
   * Across replicas: read the shared result, else take the lock and `run` the refresh, else wait
   * for the winner. The store failing never ends a session: the refresh then runs here alone.
   */
  async refresh(session: SessionData, run: () => Promise<SessionData>): Promise<SessionData> {
    const k = sharedResultKey(session.refreshToken!);
    let shared: SessionData | undefined;
    try {
      shared = await this.#awaitTurn(session, k);
    } catch (err) {
      if (err instanceof GatehouseError) throw err;
      this.#log.warn(
        { session_id: session.id },
        'shared store unavailable; refreshing without cross-replica lock',
      );
      return run();
    }
    return shared ?? this.#runAndShare(session, k, run);
  }

  /**
   * The winner's result, or undefined when it is this replica's turn to refresh: it holds the
   * lock, or has polled `MAX_POLLS` times without an answer.
   * @throws GatehouseError `refresh_failed` (busy) when the winner takes longer than `waitMs`
   */
  async #awaitTurn(session: SessionData, k: SharedResultKey): Promise<SessionData | undefined> {
    const deadline = Date.now() + this.#waitMs;
    for (let attempt = 0; attempt < MAX_POLLS; attempt++) {
      const shared = await this.#readShared(session, k);
      if (shared) return shared;
      if (await this.#store.lock(k.id, LOCK_MS)) return this.#readUnderLock(session, k);
      if (Date.now() >= deadline) throw this.#winnerTooSlow(session);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return undefined;
  }

  /**
   * The winner may have published and unlocked between our read and our lock: read again under
   * the lock, or we would spend the already-rotated token a second time.
   */
  async #readUnderLock(session: SessionData, k: SharedResultKey): Promise<SessionData | undefined> {
    const late = await this.#readShared(session, k);
    if (late) await this.#store.unlock(k.id).catch(() => {});
    return late;
  }

  /** The published result, when there is one and it is this session's. */
  async #readShared(session: SessionData, k: SharedResultKey): Promise<SessionData | undefined> {
    const stored = await this.#store.get(k.id);
    const shared = stored === undefined ? undefined : openResult(k, stored);
    return shared !== undefined && shared.id === session.id ? shared : undefined;
  }

  #winnerTooSlow(session: SessionData): GatehouseError {
    this.#log.warn({ session_id: session.id }, 'another replica did not finish the refresh in time');
    return new GatehouseError('refresh_failed', 'another replica is still refreshing', {
      cause: { kind: 'busy' },
    });
  }

  async #runAndShare(
    session: SessionData,
    k: SharedResultKey,
    run: () => Promise<SessionData>,
  ): Promise<SessionData> {
    try {
      const updated = await run();
      await this.#store.put(k.id, sealResult(k, updated), this.#resultTtlMs).catch(() => {
        this.#log.warn({ session_id: session.id }, 'could not share the refresh result');
      });
      return updated;
    } finally {
      await this.#store.unlock(k.id).catch(() => {});
    }
  }
}
