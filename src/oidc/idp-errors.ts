/**
 * What went wrong talking to the IdP, as a stable reason code. oauth4webapi raises coded
 * errors (`OperationProcessingError.code`, `ResponseBodyError`, …); undici raises
 * `TypeError('fetch failed')` and abort errors for the network. The mapping decides what the
 * user sees and what the audit line says, so it lives in one place.
 * @see https://github.com/panva/oauth4webapi/blob/main/docs/README.md#errors
 */
import * as oauth from 'oauth4webapi';
import type { ReasonCode } from '../errors.ts';

/** Could not reach the IdP at all (refused, reset, DNS, timeout). */
export function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  // undici's fetch: TypeError('fetch failed') with the socket error as cause.
  return err instanceof TypeError && err.message === 'fetch failed';
}

/** Token endpoint responses that are not a token response at all. */
const EXCHANGE_CODES: ReadonlySet<string> = new Set([
  oauth.RESPONSE_BODY_ERROR,
  oauth.WWW_AUTHENTICATE_CHALLENGE,
  oauth.RESPONSE_IS_NOT_JSON,
  oauth.RESPONSE_IS_NOT_CONFORM,
]);

/**
 * The reason for a failed code exchange (`authorizationCodeGrantRequest` and
 * `processAuthorizationCodeResponse`): network → `idp_unavailable`; an OAuth error or a
 * non-token reply → `token_exchange_failed`; a nonce that is not ours → `nonce_mismatch`;
 * any other failed check (signature, iss, aud, azp, exp, iat, alg) → `id_token_invalid`.
 */
export function exchangeFailureReason(err: unknown): ReasonCode {
  if (isNetworkError(err)) return 'idp_unavailable';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && EXCHANGE_CODES.has(code)) return 'token_exchange_failed';
  if (err instanceof oauth.OperationProcessingError) {
    const cause = err.cause as { claim?: unknown } | undefined;
    if (err.code === oauth.JWT_CLAIM_COMPARISON && cause?.claim === 'nonce') return 'nonce_mismatch';
    return 'id_token_invalid';
  }
  return 'token_exchange_failed';
}

/**
 * Log-safe evidence about an IdP failure: the error name, code and message, and for OAuth
 * error responses the `error` code and HTTP status. Never tokens, never the response body.
 */
export function describeIdpError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (err instanceof oauth.ResponseBodyError) {
    out.oauth_error = err.error;
    out.status = err.status;
  } else if (err instanceof oauth.AuthorizationResponseError) {
    out.oauth_error = err.error;
  } else if (err instanceof oauth.OperationProcessingError) {
    const cause = err.cause as { claim?: unknown; attribute?: unknown; reason?: unknown } | undefined;
    if (typeof cause?.claim === 'string') out.claim = cause.claim;
    if (typeof cause?.attribute === 'string') out.attribute = cause.attribute;
  } else if (isNetworkError(err) && err.cause instanceof Error) {
    out.cause = (err.cause as { code?: string }).code ?? err.cause.message;
  }
  return out;
}
