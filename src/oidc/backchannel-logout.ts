/**
 * `POST {prefix}/backchannel_logout`: the IdP tells us a user's session ended. The logout token
 * is validated as the spec demands (`./logout-token.ts`: signature against the IdP's JWKS,
 * `iss`, `aud`, `iat`, the back-channel `events` member, `sid` or `sub`, no `nonce`, `typ` when
 * present), its `jti` must never have been seen before on any replica, then the matching
 * sessions are revoked through the store: by IdP session (`sid`) when the token names one, else
 * every session of `sub` created so far. Every replica refuses them on its next request. A bad
 * token answers 400 `logout_token_invalid`, logged with the reason and never the token.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from '../http/send-error.ts';
import type { Log } from '../observe/logger.ts';
import type { SharedStore } from '../store/store.ts';
import type { EndpointContext, EndpointOutcome } from './login-shared.ts';
import { type Refusal, readLogoutToken } from './logout-request.ts';
import {
  type LogoutProvider,
  MAX_TOKEN_AGE_S,
  type VerifiedLogoutToken,
  verifyLogoutToken,
  whyInvalid,
} from './logout-token.ts';

export { BACKCHANNEL_LOGOUT_EVENT, type LogoutProvider } from './logout-token.ts';

export interface BackchannelLogoutDeps {
  providers: readonly LogoutProvider[];
  store: SharedStore;
  log: Log;
  /** `session.max_lifetime` in seconds: how long a revocation must be remembered */
  maxLifetimeS: number;
  storeFailOpen: boolean;
  now?: () => number;
  /**
   * `session.storage: store`: delete the stored records the logout names (after the revocation,
   * which already refuses them everywhere; a failure here only leaves them to expire).
   */
  deleteRecords?(logout: { issuer: string; sub?: string; sid?: string }, nowS: number): Promise<number>;
}

export function createBackchannelLogout(deps: BackchannelLogoutDeps) {
  const endpoint = new BackchannelLogout(deps);
  return function handle(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: EndpointContext,
  ): Promise<EndpointOutcome> {
    return endpoint.handle(req, res, ctx);
  };
}

class BackchannelLogout {
  readonly #providers: readonly LogoutProvider[];
  readonly #store: SharedStore;
  readonly #log: Log;
  readonly #maxLifetimeS: number;
  readonly #storeFailOpen: boolean;
  readonly #now: () => number;
  readonly #deleteRecords: BackchannelLogoutDeps['deleteRecords'];

  constructor(deps: BackchannelLogoutDeps) {
    this.#providers = deps.providers;
    this.#store = deps.store;
    this.#log = deps.log.child({ component: 'backchannel_logout' });
    this.#maxLifetimeS = deps.maxLifetimeS;
    this.#storeFailOpen = deps.storeFailOpen;
    this.#now = deps.now ?? Date.now;
    this.#deleteRecords = deps.deleteRecords;
  }

  async handle(req: IncomingMessage, res: ServerResponse, ctx: EndpointContext): Promise<EndpointOutcome> {
    if (req.method !== 'POST') {
      sendError(req, res, 'bad_request', { requestId: ctx.requestId, headers: { Allow: 'POST' } });
      return { outcome: 'error', reason: 'bad_request' };
    }
    const raw = await readLogoutToken(req);
    if (typeof raw !== 'string') return this.#refuse(req, res, ctx, raw);
    const token = await this.#verify(raw);
    if ('why' in token) return this.#refuse(req, res, ctx, token);
    const nowS = Math.floor(this.#now() / 1000);
    const replayed = await this.#claimJti(token, nowS);
    if (replayed) return this.#refuse(req, res, ctx, replayed);
    const unshared = await this.#revoke(token, nowS);
    if (unshared) return this.#refuse(req, res, ctx, unshared);
    return this.#acknowledge(res, ctx, token);
  }

  #acknowledge(res: ServerResponse, ctx: EndpointContext, token: VerifiedLogoutToken): EndpointOutcome {
    this.#log.info(
      { request_id: ctx.requestId, sub: token.sub, by: token.sid !== undefined ? 'sid' : 'sub' },
      'back-channel logout: sessions revoked',
    );
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0' });
    res.end();
    return { outcome: 'ok', ...(token.sub ? { sub: token.sub } : {}) };
  }

  #refuse(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: EndpointContext,
    refusal: Refusal,
  ): EndpointOutcome {
    const { code, why } = refusal;
    this.#log.warn({ request_id: ctx.requestId, reason: code, why }, 'back-channel logout refused');
    sendError(req, res, code, { requestId: ctx.requestId });
    return { outcome: 'error', reason: code };
  }

  async #verify(token: string): Promise<VerifiedLogoutToken | Refusal> {
    if (this.#providers.every((p) => p.client.as === undefined))
      return { code: 'idp_unavailable', why: 'IdP discovery not done' };
    try {
      return await verifyLogoutToken(token, this.#providers, this.#now);
    } catch (err) {
      return { code: 'logout_token_invalid', why: whyInvalid(err) };
    }
  }

  /** Records the `jti` on the shared store: a refusal when some replica saw it before. */
  async #claimJti(token: VerifiedLogoutToken, nowS: number): Promise<Refusal | undefined> {
    // Remember the jti as long as the token could still be accepted.
    const validUntilS = Math.max(token.iat + MAX_TOKEN_AGE_S, token.exp ?? 0) + token.skewS;
    const jtiKey = `jti:${createHash('sha256').update(`${token.issuer}\0${token.jti}`).digest('base64url')}`;
    try {
      if (!(await this.#store.claimOnce(jtiKey, Math.max(60_000, (validUntilS - nowS) * 1000))))
        return { code: 'logout_token_invalid', why: 'jti replayed' };
    } catch {
      if (!this.#storeFailOpen) return { code: 'store_unavailable', why: 'jti not recorded' };
    }
    return undefined;
  }

  /** Revokes the token's sessions on the shared store, by `sid` when it names one, else by `sub`. */
  async #revoke(token: VerifiedLogoutToken, nowS: number): Promise<Refusal | undefined> {
    const until = nowS + this.#maxLifetimeS;
    try {
      if (token.sid !== undefined) await this.#store.revokeSid(token.issuer, token.sid, until);
      else await this.#store.revokeSubject(token.issuer, token.sub!, nowS, until);
    } catch {
      // This replica refuses the sessions already and writes the entry back when the store returns.
      if (!this.#storeFailOpen) return { code: 'store_unavailable', why: 'revocation not shared' };
    }
    if (this.#deleteRecords) {
      const logout = {
        issuer: token.issuer,
        ...(token.sub !== undefined ? { sub: token.sub } : {}),
        ...(token.sid !== undefined ? { sid: token.sid } : {}),
      };
      await this.#deleteRecords(logout, nowS).catch((err: unknown) =>
        this.#log.warn(
          { reason: err instanceof Error ? err.message : String(err) },
          'back-channel logout: stored sessions not deleted (they stay revoked and expire)',
        ),
      );
    }
    return undefined;
  }
}
