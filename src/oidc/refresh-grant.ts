/**
 * The refresh itself, once single-flight has decided this caller runs it: the refresh token
 * grant at the IdP that issued the session, then the session updated with the new tokens and,
 * when the IdP sent a new ID token, its claims.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse
 */
import * as oauth from 'oauth4webapi';
import { GatehouseError } from '../errors.ts';
import type { Log } from '../observe/logger.ts';
import { pickSessionClaims, type SessionData } from '../session/session-data.ts';
import { verifyIdTokenSignature } from './code-exchange.ts';
import { describeIdpError, isNetworkError } from './idp-errors.ts';
import type { OidcClient } from './oidc-client.ts';
import { withTokens } from './session-from-tokens.ts';

export interface RefreshGrantDeps {
  /** the client of the provider a session logged in with (undefined: the provider is gone) */
  clientFor(session: SessionData): OidcClient | undefined;
  /** the top-level claim names sessions keep */
  claimNames: ReadonlySet<string>;
  log: Log;
  now: () => number;
}

export class RefreshGrant {
  readonly #clientFor: RefreshGrantDeps['clientFor'];
  readonly #claimNames: ReadonlySet<string>;
  readonly #log: Log;
  readonly #now: () => number;

  constructor(deps: RefreshGrantDeps) {
    this.#clientFor = (session) => deps.clientFor(session);
    this.#claimNames = deps.claimNames;
    this.#log = deps.log;
    this.#now = deps.now;
  }

  /** @throws GatehouseError `refresh_failed` */
  async run(session: SessionData): Promise<SessionData> {
    const { client, as } = this.#issuerOf(session);
    const tokens = await this.#requestTokens(session, client, as);
    return this.#updateSession(session, tokens);
  }

  /** Refresh tokens go back to the IdP that issued them, never to another provider. */
  #issuerOf(session: SessionData): { client: OidcClient; as: oauth.AuthorizationServer } {
    const client = this.#clientFor(session);
    if (client === undefined)
      throw new GatehouseError('refresh_failed', "the session's provider is no longer configured");
    const as = client.as;
    if (as === undefined) throw new GatehouseError('refresh_failed', 'the IdP is not discovered yet');
    return { client, as };
  }

  async #requestTokens(
    session: SessionData,
    client: OidcClient,
    as: oauth.AuthorizationServer,
  ): Promise<oauth.TokenEndpointResponse> {
    try {
      const response = await oauth.refreshTokenGrantRequest(
        as,
        client.client,
        client.clientAuth,
        session.refreshToken!,
        client.http,
      );
      const tokens = await oauth.processRefreshTokenResponse(as, client.client, response);
      // The same key rule as login and bearer tokens (OIDC Core §10.1: `kid` among several keys).
      if (tokens.id_token !== undefined) await verifyIdTokenSignature(client, as, tokens.id_token);
      return tokens;
    } catch (err) {
      const kind = isNetworkError(err) ? 'network' : 'rejected';
      this.#log.warn({ session_id: session.id, kind, reason: describeIdpError(err) }, 'refresh failed');
      throw new GatehouseError('refresh_failed', `refresh failed (${kind})`, { cause: { kind } });
    }
  }

  #updateSession(session: SessionData, tokens: oauth.TokenEndpointResponse): SessionData {
    const updated = withTokens(session, tokens, this.#now());
    const idClaims = oauth.getValidatedIdTokenClaims(tokens);
    if (idClaims === undefined) return updated;
    this.#checkSameSubject(session, idClaims);
    const claims = pickSessionClaims(idClaims, this.#claimNames);
    return { ...updated, claims: { ...session.claims, ...claims } };
  }

  /** A refreshed ID token must describe the same person (OIDC Core §12.2). */
  #checkSameSubject(session: SessionData, idClaims: oauth.IDToken): void {
    if (idClaims.sub === session.claims.sub && idClaims.iss === session.iss) return;
    this.#log.warn({ session_id: session.id }, 'refresh returned an ID token for another subject');
    throw new GatehouseError('refresh_failed', 'the refreshed ID token names another subject', {
      cause: { kind: 'rejected' },
    });
  }
}
