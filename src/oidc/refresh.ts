/**
 * Session refresh: when the access token is about to expire, trade the refresh token for new
 * tokens. Single-flight per session id within the process – concurrent requests of one
 * browser share one token request – and the result is remembered briefly, because requests
 * already in flight still carry the old cookie: with rotating refresh tokens (one use each) a
 * second exchange of the same token would fail and log the user out. With a shared store the
 * single-flight spans replicas (`./refresh-replicas.ts`): one lock per refresh token, and the
 * winner's result, sealed, for the others. The grant and the session update are
 * `./refresh-grant.ts`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Config } from '../config/schema.ts';
import { GatehouseError } from '../errors.ts';
import type { Log } from '../observe/logger.ts';
import type { SessionData } from '../session/session-data.ts';
import type { RefreshCoordinator } from '../store/store.ts';
import { LruCache } from '../util/lru.ts';
import type { OidcClient } from './oidc-client.ts';
import { RefreshGrant } from './refresh-grant.ts';
import { ReplicaSingleFlight } from './refresh-replicas.ts';

export interface Refresher {
  /** @throws GatehouseError `refresh_failed` (the caller ends the session) */
  refresh(session: SessionData): Promise<SessionData>;
}

export interface RefresherDeps {
  config: Config;
  /** the client of the provider a session logged in with (undefined: the provider is gone) */
  clientFor(session: SessionData): OidcClient | undefined;
  /** the top-level claim names sessions keep */
  claimNames: ReadonlySet<string>;
  dispatcher: Dispatcher;
  log: Log;
  now?: () => number;
  /** a shared store's lock and result slot: single-flight across replicas */
  coordinator?: RefreshCoordinator;
  /** how long a replica that lost the lock waits for the winner's result (default 5 s) */
  waitMs?: number;
}

/** How long a refresh result answers requests that still carry the pre-refresh cookie. */
const RECENT_MS = 60_000;

/** True when the session has a refresh token and its access token expires within `refreshBeforeMs`. */
export function needsRefresh(session: SessionData, refreshBeforeMs: number, now = Date.now()): boolean {
  if (session.refreshToken === undefined || session.accessTokenExpiresAt === undefined) return false;
  return session.accessTokenExpiresAt * 1000 - now <= refreshBeforeMs;
}

export function createRefresher(deps: RefresherDeps): Refresher {
  return new SessionRefresher(deps);
}

/** The key of a remembered result: the session and the refresh token it was refreshed from. */
function recentKey(session: SessionData): string {
  const tokenHash = createHash('sha256')
    .update(session.refreshToken ?? '')
    .digest('base64url');
  return `${session.id}:${tokenHash}`;
}

/** Single-flight in process, in front of the cross-replica single-flight when there is one. */
class SessionRefresher implements Refresher {
  readonly #now: () => number;
  readonly #grant: RefreshGrant;
  readonly #replicas: ReplicaSingleFlight | undefined;
  readonly #inFlight = new Map<string, Promise<SessionData>>();
  readonly #recent: LruCache<SessionData>;

  constructor(deps: RefresherDeps) {
    const log = deps.log.child({ component: 'refresh' });
    this.#now = deps.now ?? Date.now;
    this.#grant = new RefreshGrant({
      clientFor: deps.clientFor,
      claimNames: deps.claimNames,
      log,
      now: this.#now,
    });
    this.#replicas = deps.coordinator
      ? new ReplicaSingleFlight({
          coordinator: deps.coordinator,
          log,
          waitMs: deps.waitMs,
          resultTtlMs: RECENT_MS,
        })
      : undefined;
    this.#recent = new LruCache<SessionData>(Math.max(100, deps.config.cache.sessions));
  }

  refresh(session: SessionData): Promise<SessionData> {
    if (session.refreshToken === undefined) {
      return Promise.reject(new GatehouseError('refresh_failed', 'the session has no refresh token'));
    }
    const key = recentKey(session);
    const done = this.#recent.get(key, this.#now());
    if (done !== undefined) return Promise.resolve(done);
    return this.#inFlight.get(session.id) ?? this.#startRefresh(session, key);
  }

  /** Runs the refresh, joined by every request of this session until it settles. */
  #startRefresh(session: SessionData, key: string): Promise<SessionData> {
    const promise = this.#refreshOnce(session)
      .then((updated) => {
        this.#recent.set(key, updated, this.#now() + RECENT_MS);
        return updated;
      })
      .finally(() => this.#inFlight.delete(session.id));
    this.#inFlight.set(session.id, promise);
    return promise;
  }

  #refreshOnce(session: SessionData): Promise<SessionData> {
    const run = () => this.#grant.run(session);
    return this.#replicas ? this.#replicas.refresh(session, run) : run();
  }
}
