/**
 * Session refresh: when the access token is about to expire, trade the refresh token for new
 * tokens. Single-flight per session id within the process – concurrent requests of one
 * browser share one token request – and the result is remembered briefly, because requests
 * already in flight still carry the old cookie: with rotating refresh tokens (one use each) a
 * second exchange of the same token would fail and log the user out. With a shared store the
 * single-flight spans replicas (`./refresh-share.ts`): one lock per refresh token, and the
 * winner's result, sealed, for the others.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse
 */
import { createHash } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import type { Dispatcher } from 'undici';
import type { Config } from '../config/schema.ts';
import { GatehouseError } from '../errors.ts';
import type { Log } from '../observe/logger.ts';
import { pickSessionClaims, type SessionData } from '../session/session-data.ts';
import type { RefreshCoordinator } from '../store/store.ts';
import { LruCache } from '../util/lru.ts';
import { verifyIdTokenSignature } from './code-exchange.ts';
import { describeIdpError, isNetworkError } from './idp-errors.ts';
import type { OidcClient } from './oidc-client.ts';
import { openResult, sealResult, sharedResultKey } from './refresh-share.ts';
import { withTokens } from './session-from-tokens.ts';

export interface Refresher {
  /** @throws GatehouseError `refresh_failed` (the caller ends the session) */
  refresh(session: SessionData): Promise<SessionData>;
}

/** How long a refresh result answers requests that still carry the pre-refresh cookie. */
const RECENT_MS = 60_000;
/** Cross-replica lock: longer than any token request (oidc.timeout is capped by the IdP's answer). */
const LOCK_MS = 15_000;
const WAIT_MS = 5_000;
const POLL_MS = 50;
const MAX_POLLS = 400;

/** True when the session has a refresh token and its access token expires within `refreshBeforeMs`. */
export function needsRefresh(session: SessionData, refreshBeforeMs: number, now = Date.now()): boolean {
  if (session.refreshToken === undefined || session.accessTokenExpiresAt === undefined) return false;
  return session.accessTokenExpiresAt * 1000 - now <= refreshBeforeMs;
}

export function createRefresher(deps: {
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
}): Refresher {
  const { claimNames } = deps;
  const log = deps.log.child({ component: 'refresh' });
  const now = deps.now ?? Date.now;
  const inFlight = new Map<string, Promise<SessionData>>();
  const recent = new LruCache<SessionData>(Math.max(100, deps.config.cache.sessions));
  const keyOf = (s: SessionData) =>
    `${s.id}:${createHash('sha256')
      .update(s.refreshToken ?? '')
      .digest('base64url')}`;

  async function run(session: SessionData): Promise<SessionData> {
    // Refresh tokens go back to the IdP that issued them, never to another provider.
    const client = deps.clientFor(session);
    if (client === undefined)
      throw new GatehouseError('refresh_failed', "the session's provider is no longer configured");
    const as = client.as;
    if (as === undefined) throw new GatehouseError('refresh_failed', 'the IdP is not discovered yet');
    let tokens: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.refreshTokenGrantRequest(
        as,
        client.client,
        client.clientAuth,
        session.refreshToken!,
        client.http,
      );
      tokens = await oauth.processRefreshTokenResponse(as, client.client, response);
      // The same key rule as login and bearer tokens (OIDC Core §10.1: `kid` among several keys).
      if (tokens.id_token !== undefined) await verifyIdTokenSignature(client, as, tokens.id_token);
    } catch (err) {
      const kind = isNetworkError(err) ? 'network' : 'rejected';
      log.warn({ session_id: session.id, kind, reason: describeIdpError(err) }, 'refresh failed');
      throw new GatehouseError('refresh_failed', `refresh failed (${kind})`, { cause: { kind } });
    }
    let updated = withTokens(session, tokens, now());
    const idClaims = oauth.getValidatedIdTokenClaims(tokens);
    if (idClaims !== undefined) {
      // A refreshed ID token must describe the same person (OIDC Core §12.2).
      if (idClaims.sub !== session.claims.sub || idClaims.iss !== session.iss) {
        log.warn({ session_id: session.id }, 'refresh returned an ID token for another subject');
        throw new GatehouseError('refresh_failed', 'the refreshed ID token names another subject', {
          cause: { kind: 'rejected' },
        });
      }
      const claims = pickSessionClaims(idClaims, claimNames);
      updated = { ...updated, claims: { ...session.claims, ...claims } };
    }
    return updated;
  }

  /**
   * Across replicas: read the shared result, else take the lock and refresh, else wait for the
   * winner. The store failing never ends a session: the refresh then runs here alone.
   */
  async function coordinated(session: SessionData, c: RefreshCoordinator): Promise<SessionData> {
    const k = sharedResultKey(session.refreshToken!);
    const deadline = Date.now() + (deps.waitMs ?? WAIT_MS);
    const readShared = async () => {
      const stored = await c.get(k.id);
      const shared = stored === undefined ? undefined : openResult(k, stored);
      return shared !== undefined && shared.id === session.id ? shared : undefined;
    };
    try {
      for (let attempt = 0; attempt < MAX_POLLS; attempt++) {
        const shared = await readShared();
        if (shared) return shared;
        if (await c.lock(k.id, LOCK_MS)) {
          // The winner may have published and unlocked between our read and our lock: read
          // again under the lock, or we would spend the already-rotated token a second time.
          const late = await readShared();
          if (!late) break;
          await c.unlock(k.id).catch(() => {});
          return late;
        }
        if (Date.now() >= deadline) {
          log.warn({ session_id: session.id }, 'another replica did not finish the refresh in time');
          throw new GatehouseError('refresh_failed', 'another replica is still refreshing', {
            cause: { kind: 'busy' },
          });
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } catch (err) {
      if (err instanceof GatehouseError) throw err;
      log.warn({ session_id: session.id }, 'shared store unavailable; refreshing without cross-replica lock');
      return run(session);
    }
    try {
      const updated = await run(session);
      await c.put(k.id, sealResult(k, updated), RECENT_MS).catch(() => {
        log.warn({ session_id: session.id }, 'could not share the refresh result');
      });
      return updated;
    } finally {
      await c.unlock(k.id).catch(() => {});
    }
  }

  return {
    refresh(session) {
      if (session.refreshToken === undefined) {
        return Promise.reject(new GatehouseError('refresh_failed', 'the session has no refresh token'));
      }
      const key = keyOf(session);
      const done = recent.get(key, now());
      if (done !== undefined) return Promise.resolve(done);
      const pending = inFlight.get(session.id);
      if (pending !== undefined) return pending;
      const promise = (deps.coordinator ? coordinated(session, deps.coordinator) : run(session))
        .then((updated) => {
          recent.set(key, updated, now() + RECENT_MS);
          return updated;
        })
        .finally(() => inFlight.delete(session.id));
      inFlight.set(session.id, promise);
      return promise;
    },
  };
}
