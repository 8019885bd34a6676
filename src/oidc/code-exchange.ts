/**
 * The back-channel half of the code flow: code → tokens, then the ID token checked in full and
 * the optional userinfo merged. oauth4webapi checks iss, aud, azp, exp/iat (with the client's
 * clock tolerance), nonce, and the `alg` against the narrowed metadata; it skips the signature
 * for a token-endpoint response (TLS vouches for it), and Gatehouse checks it anyway against
 * the IdP's JWKS – an http:// loopback IdP has no TLS to vouch.
 *
 * The signature is checked with the client's key set (`OidcClient.keys`), not oauth4webapi's
 * `validateApplicationLevelSignature`: the key is then chosen by the rule bearer tokens meet
 * (`selectKey`), so a token without `kid` while several keys fit is `unknown_kid` on both paths
 * (OpenID Connect Core §10.1).
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 * @see https://openid.net/specs/openid-connect-core-1_0.html#Signing
 */
import { compactVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { GatehouseError, type ReasonCode } from '../errors.ts';
import { fromJoseError } from '../tokens/token-errors.ts';
import { describeIdpError, exchangeFailureReason, isNetworkError } from './idp-errors.ts';
import type { OidcClient } from './oidc-client.ts';

export interface ExchangeResult {
  tokens: oauth.TokenEndpointResponse;
  /** validated ID token claims, with userinfo claims merged over them when enabled */
  claims: Record<string, unknown>;
}

/**
 * @param callbackParams the result of `oauth.validateAuthResponse`
 * @throws GatehouseError `idp_unavailable`, `token_exchange_failed`, `nonce_mismatch` or
 *   `id_token_invalid`, with log-safe evidence as `cause`
 */
export async function exchangeCode(
  client: OidcClient,
  as: oauth.AuthorizationServer,
  callbackParams: URLSearchParams,
  opts: { redirectUri: string; verifier: string; nonce: string; userinfo: boolean },
): Promise<ExchangeResult> {
  let tokens: oauth.TokenEndpointResponse;
  let idClaims: oauth.IDToken;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client.client,
      client.clientAuth,
      callbackParams,
      opts.redirectUri,
      opts.verifier,
      client.http,
    );
    tokens = await oauth.processAuthorizationCodeResponse(as, client.client, response, {
      expectedNonce: opts.nonce,
      requireIdToken: true,
    });
    idClaims = oauth.getValidatedIdTokenClaims(tokens)!;
  } catch (err) {
    const code = exchangeFailureReason(err);
    throw new GatehouseError(code, `code exchange failed: ${code}`, { cause: describeIdpError(err) });
  }
  // requireIdToken: processAuthorizationCodeResponse refused a response without one.
  await verifyIdTokenSignature(client, as, tokens.id_token!);
  const claims: Record<string, unknown> = { ...idClaims };
  if (opts.userinfo && as.userinfo_endpoint) {
    try {
      const response = await oauth.userInfoRequest(as, client.client, tokens.access_token, client.http);
      const info = await oauth.processUserInfoResponse(as, client.client, idClaims.sub, response);
      for (const [name, value] of Object.entries(info)) {
        // The ID token's protocol claims are signed statements about this login; userinfo
        // only adds profile claims next to them.
        if (!PROTOCOL_CLAIMS.has(name))
          Object.defineProperty(claims, name, { value, enumerable: true, writable: true });
      }
    } catch (err) {
      const code = isNetworkError(err) ? 'idp_unavailable' : 'token_exchange_failed';
      throw new GatehouseError(code, `userinfo failed: ${code}`, { cause: describeIdpError(err) });
    }
  }
  return { tokens, claims };
}

/**
 * Check an ID token's signature with the IdP's key set; its claims are oauth4webapi's to check.
 *
 * @throws GatehouseError `unknown_kid` when the header selects no key or, without `kid`, several;
 *   `idp_unavailable` when the IdP's keys could not be loaded; `id_token_invalid` otherwise
 */
export async function verifyIdTokenSignature(
  client: OidcClient,
  as: oauth.AuthorizationServer,
  idToken: string,
): Promise<void> {
  try {
    await compactVerify(idToken, client.keys.getKey, {
      // narrowed to `oidc.id_token_algorithms` at discovery; RS256 is the OIDC default
      algorithms: as.id_token_signing_alg_values_supported ?? ['RS256'],
    });
  } catch (err) {
    const code = signatureFailureReason(fromJoseError(err).code);
    throw new GatehouseError(code, `ID token signature check failed: ${code}`, {
      cause: describeIdpError(err),
    });
  }
}

function signatureFailureReason(code: ReasonCode): ReasonCode {
  if (code === 'unknown_kid') return 'unknown_kid';
  if (code === 'jwks_unavailable') return 'idp_unavailable';
  return 'id_token_invalid';
}

const PROTOCOL_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'nonce',
  'azp',
  'sid',
  'auth_time',
  'acr',
  'amr',
  'at_hash',
  'c_hash',
  'jti',
]);
