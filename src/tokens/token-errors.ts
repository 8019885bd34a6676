/**
 * jose's error classes → Gatehouse reason codes. jose names *what* failed in its own terms
 * (`ERR_JWT_CLAIM_VALIDATION_FAILED` with a `claim`); the audit log, the 401 body and the
 * metrics need the stable codes of `src/errors.ts`, so this is the one place that translates.
 *
 * @see https://github.com/panva/jose/blob/main/src/util/errors.ts
 */
import { hash } from 'node:crypto';
import { errors } from 'jose';
import { GatehouseError, type ReasonCode } from '../errors.ts';

/** A token failure with a stable code; jose's error (never the token) goes in `cause`. */
export function tokenError(code: ReasonCode, message?: string, cause?: unknown): GatehouseError {
  return new GatehouseError(code, message, cause === undefined ? undefined : { cause });
}

/** The reason code for a claim jose refused, by claim name and jose's reason. */
function claimCode(claim: string, reason: string): ReasonCode {
  if (reason === 'missing') return 'missing_claim';
  if (reason === 'invalid') return 'token_malformed'; // e.g. a string "exp": a producer bug, not expiry
  switch (claim) {
    case 'aud':
      return 'audience_mismatch';
    case 'iss':
      return 'issuer_mismatch';
    case 'typ':
      return 'typ_mismatch';
    case 'nbf':
    case 'iat':
      return 'token_not_yet_valid';
    case 'exp':
      return 'token_expired';
    default:
      return 'missing_claim';
  }
}

/**
 * Translate anything `jwtVerify` (or our key resolver) threw. A `GatehouseError` passes
 * through (the key resolver's `unknown_kid` and `jwks_unavailable`); an unrecognised error
 * becomes `token_malformed`, never a 500: a token is hostile input and whatever it provokes is
 * the token's fault.
 */
export function fromJoseError(err: unknown): GatehouseError {
  if (err instanceof GatehouseError) return err;
  if (err instanceof errors.JWTExpired) return tokenError('token_expired', undefined, err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    const code = claimCode(err.claim, err.reason);
    return tokenError(
      code,
      `claim "${err.claim}" ${err.reason === 'missing' ? 'is missing' : 'check failed'}`,
      err,
    );
  }
  if (err instanceof errors.JOSEError) {
    switch (err.code) {
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return tokenError('bad_signature', undefined, err);
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED':
        return tokenError('alg_not_allowed', undefined, err);
      default:
        // ERR_JWS_INVALID, ERR_JWT_INVALID and anything newer
        return tokenError('token_malformed', undefined, err);
    }
  }
  return tokenError('token_malformed', undefined, err);
}

/**
 * SHA-256 of the token, base64url: the cache key, and (first 12 characters) the only trace of a
 * token a log line may carry.
 */
export function tokenHash(token: string): string {
  // The one-shot API: no Hash object per call (a third cheaper for a 700-byte token).
  return hash('sha256', token, 'base64url');
}

/** The log-safe fingerprint of a token hash. */
export function fingerprint(hash: string): string {
  return hash.slice(0, 12);
}
