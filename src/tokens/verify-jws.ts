/**
 * `jwtVerify` plus the one case jose leaves to the caller: a token without `kid` when several
 * keys of the issuer's set fit its `alg` (common right after a rotation). Each candidate is tried
 * in turn – bounded, so a JWKS with many keys cannot multiply the work of one token.
 *
 * @see https://github.com/panva/jose/blob/main/docs/jwks/local/functions/createLocalJWKSet.md
 */
import { errors, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from 'jose';

/** Most keys tried for one kid-less token. */
const MAX_CANDIDATES = 4;

export async function verifyWithJose(
  token: string,
  getKey: JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<{ payload: JWTPayload }> {
  try {
    return await jwtVerify(token, getKey, options);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    let tried = 0;
    for await (const key of err) {
      if (++tried > MAX_CANDIDATES) break;
      try {
        return await jwtVerify(token, key, options);
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}
