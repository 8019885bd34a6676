/**
 * The bearer token of a request, read strictly: a lenient parser is how two components end up
 * disagreeing about which credential a request carries.
 *
 * The token's characters are checked where it is parsed (`parseToken`, on a verified-token cache
 * miss: base64url segments for a JWT, the `b64token` alphabet for an opaque token). A cache hit
 * is, by its SHA-256, a token that passed that check, so a repeated token is not scanned again.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
import { tokenError } from './token-errors.ts';

const SCHEME = 'bearer';

/**
 * `value` starts with "bearer" in any ASCII case: what `value.slice(0, 6).toLowerCase() ===
 * 'bearer'` answers (no other character lower-cases to one of these letters), without the two
 * strings. `| 0x20` lower-cases an ASCII letter and maps nothing else onto one.
 */
function startsWithScheme(value: string): boolean {
  if (value.length < SCHEME.length) return false;
  for (let i = 0; i < SCHEME.length; i++) {
    if ((value.charCodeAt(i) | 0x20) !== SCHEME.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The token of `Authorization: Bearer <token>`, or `undefined` when the request carries no bearer
 * credential (no header, or another scheme such as Basic, which is not ours to judge).
 *
 * @throws GatehouseError `token_malformed` for more than one Authorization header, or a Bearer
 *   scheme not followed by exactly one space and a token.
 */
export function extractBearer(authorization: string | string[] | undefined): string | undefined {
  let value: string | undefined;
  if (Array.isArray(authorization)) {
    if (authorization.length > 1) throw tokenError('token_malformed', 'more than one Authorization header');
    value = authorization[0];
  } else {
    value = authorization;
  }
  if (value === undefined || value === '') return undefined;

  // The scheme is case-insensitive (RFC 9110 §11.1); compare without allocating.
  if (!startsWithScheme(value)) return undefined;
  if (value.length === SCHEME.length) throw tokenError('token_malformed', 'Bearer scheme without a token');
  const sep = value.charCodeAt(SCHEME.length);
  if (sep !== 0x20) {
    // "Bearerx …" is another scheme; "Bearer\t…" is a malformed Bearer.
    if (sep === 0x09) throw tokenError('token_malformed', 'Bearer must be followed by one space');
    return undefined;
  }
  const token = value.slice(SCHEME.length + 1);
  if (token === '' || token.charCodeAt(0) === 0x20)
    throw tokenError('token_malformed', 'Bearer must be followed by one space and a token');
  return token;
}
