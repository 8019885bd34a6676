/**
 * The token of `Authorization: DPoP <token>` (scheme case-insensitive, one space, a token), or
 * `undefined` for any other scheme. Called once `extractBearer` found no Bearer credential, so a
 * repeated Authorization header was already refused.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
import { tokenError } from './token-errors.ts';

export function extractDpop(authorization: string | string[] | undefined): string | undefined {
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  if (value === undefined || value.length < 4 || value.slice(0, 4).toLowerCase() !== 'dpop') return undefined;
  if (value.length === 4) throw tokenError('token_malformed', 'DPoP scheme without a token');
  if (value.charCodeAt(4) !== 0x20) return undefined; // "DPoPx …" is another scheme
  const token = value.slice(5);
  if (token === '' || token.charCodeAt(0) === 0x20)
    throw tokenError('token_malformed', 'DPoP must be followed by one space and a token');
  return token;
}
