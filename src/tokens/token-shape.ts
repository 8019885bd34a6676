/**
 * A strict structural parse of a compact JWS before anything trusts it: it bounds the work a
 * hostile token can cause, and it yields the unverified `iss`, `alg`, `kid` and `typ` that pick
 * the issuer and the key – so a token for an issuer we do not trust costs no network call.
 * Nothing read here is trusted until jose has verified the signature.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-7.2
 */
import { tokenError } from './token-errors.ts';

/** Largest token accepted, in characters. IdP access tokens are 1–4 KB; Node's header cap is 16 KB. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Opaque (non-JWT) tokens: the token68 alphabet of RFC 6750. */
const OPAQUE = /^[A-Za-z0-9\-._~+/]+=*$/;

export interface JwtParts {
  readonly kind: 'jwt';
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
}
export interface OpaqueToken {
  readonly kind: 'opaque';
}

/** Invalid UTF-8 is refused, as jose refuses it, rather than read as U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  // base64url without padding: a length of 1 mod 4 can never be produced by an encoder.
  if (segment.length === 0 || segment.length % 4 === 1 || !BASE64URL.test(segment)) {
    throw tokenError('token_malformed', `the JWT ${what} is not base64url`);
  }
  let text: string;
  let value: unknown;
  try {
    text = UTF8.decode(Buffer.from(segment, 'base64url'));
    value = JSON.parse(text);
  } catch (cause) {
    throw tokenError('token_malformed', `the JWT ${what} is not JSON`, cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw tokenError('token_malformed', `the JWT ${what} is not a JSON object`);
  }
  // JSON.parse (ours and jose's) keeps the last of duplicate names, other parsers the first: a
  // token that two readers could see differently is refused outright (RFC 8725 §3.1, RFC 7515 §5.2).
  if (hasDuplicateNames(text)) {
    throw tokenError('token_malformed', `the JWT ${what} has a duplicate member name`);
  }
  return value as Record<string, unknown>;
}

/**
 * Does any object in this (already valid) JSON text name a member twice? Names compare after
 * unescaping, so `"alg"` and `"\u0061lg"` are the same name. Linear in the text.
 */
export function hasDuplicateNames(json: string): boolean {
  const stack: Array<{ names: Set<string>; expectName: boolean } | null> = [];
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = i + 1;
      let escaped = false;
      while (end < json.length && json.charCodeAt(end) !== 0x22) {
        if (json.charCodeAt(end) === 0x5c /* \ */) {
          escaped = true;
          end += 2;
        } else end++;
      }
      const top = stack.at(-1);
      if (top?.expectName) {
        // Without a backslash the (valid) JSON string's text is its value; else unescape it.
        const name = escaped ? (JSON.parse(json.slice(i, end + 1)) as string) : json.slice(i + 1, end);
        if (top.names.has(name)) return true;
        top.names.add(name);
        top.expectName = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      stack.push({ names: new Set(), expectName: true });
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack.at(-1);
      if (top) top.expectName = true;
    }
  }
  return false;
}

/**
 * Classify and parse a token: a JWT (three base64url segments; header and payload JSON objects)
 * or an opaque token (no dot at all, token68 characters).
 *
 * @throws GatehouseError `token_too_large` beyond {@link MAX_TOKEN_LENGTH}; `token_malformed`
 *   for anything else that is neither.
 */
export function parseToken(token: string): JwtParts | OpaqueToken {
  if (token.length > MAX_TOKEN_LENGTH) throw tokenError('token_too_large');
  if (token.length === 0) throw tokenError('token_malformed', 'the token is empty');
  const first = token.indexOf('.');
  if (first === -1) {
    if (!OPAQUE.test(token)) throw tokenError('token_malformed', 'the token has invalid characters');
    return { kind: 'opaque' };
  }
  const second = token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) {
    throw tokenError('token_malformed', 'a JWT has exactly three segments');
  }
  const header = decodeSegment(token.slice(0, first), 'header');
  const payload = decodeSegment(token.slice(first + 1, second), 'payload');
  // The signature may be empty here (alg "none"): the algorithm check names that precisely.
  const signature = token.slice(second + 1);
  if (signature.length % 4 === 1 || !BASE64URL.test(signature)) {
    throw tokenError('token_malformed', 'the JWT signature is not base64url');
  }
  return { kind: 'jwt', header, payload };
}

const normalizeTyp = (typ: string): string => {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
};

/**
 * Does the header `typ` match the configured one? Media types compare case-insensitively with
 * the `application/` prefix optional, so `at+jwt` accepts `application/at+jwt`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-4.1.9
 */
export function typMatches(headerTyp: unknown, expected: string): boolean {
  return typeof headerTyp === 'string' && normalizeTyp(headerTyp) === normalizeTyp(expected);
}
