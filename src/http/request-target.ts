/**
 * The request target, parsed once into the one form that routing, policy and the upstream all
 * read. Path confusion – a router and an upstream reading the same bytes differently – is the
 * classic way around a path-based policy, so anything two readers could disagree on is either
 * normalized to a single canonical spelling or refused with `bad_request`.
 *
 * Canonical form (RFC 3986 §6.2.2 plus the refusals below):
 * - percent-encoded unreserved characters are decoded (`/%61dmin` → `/admin`), every other
 *   escape is upper-cased (`%c3%a9` → `%C3%A9`), and characters that may not appear raw in a
 *   path (`"<>^`{|}[]`) are percent-encoded, so WHATWG `URL` leaves the result unchanged;
 * - dot-segments are removed (§5.2.4, after decoding, so `%2e%2e` counts), a `..` above the root
 *   is refused, and repeated slashes are merged (`//admin` → `/admin`, as nginx `merge_slashes`);
 * - the path is case-sensitive, as HTTP says; `/Admin` and `/admin` are different paths.
 *
 * Refused: anything but origin-form (absolute-form `http://h/p`, authority-form, `*`: a reverse
 * proxy has no use for them and they invite Host/authority disagreements), control characters,
 * spaces, raw non-ASCII (clients percent-encode it; node hands raw bytes over as latin1, which is
 * ambiguous), backslashes, encoded separators and controls (`%2F`, `%5C`, `%00`–`%1F`, `%7F`),
 * invalid escapes, and `;` path parameters (Tomcat/Spring read `/admin;x` as `/admin`).
 *
 * The query is never used for matching; it is kept as sent, except that the characters WHATWG
 * `URL` would encode (`"'<>`) are encoded here so the upstream receives exactly `search`.
 * A fragment (clients never send one) is dropped.
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-5.2.4
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-3.2
 */
import { GatehouseError } from '../errors.ts';

export interface RequestTarget {
  /** normalized; used by routing AND policy AND sent upstream */
  readonly path: string;
  /** '' or '?…'; never used for matching */
  readonly search: string;
}

/** Longest request target accepted; node's header limit usually stops it earlier. */
export const MAX_TARGET_LENGTH = 8192;

const HEX = '0123456789ABCDEF';

/** Per ASCII code: 0 = refused, 1 = kept as is, 2 = percent-encoded, 3 = '%' escape start. */
const PATH_CLASS = new Uint8Array(128);
const QUERY_CLASS = new Uint8Array(128);
const UNRESERVED = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) {
  PATH_CLASS[c] = 1;
  QUERY_CLASS[c] = 1;
}
for (const ch of '"<>^`{|}[]') PATH_CLASS[ch.charCodeAt(0)] = 2;
for (const ch of '"\'<>') QUERY_CLASS[ch.charCodeAt(0)] = 2;
PATH_CLASS[0x5c] = 0; // backslash: a separator to Windows/IIS and to WHATWG URL
PATH_CLASS[0x3b] = 0; // ';' path parameters
PATH_CLASS[0x3f] = 0; // '?' ends the path before we get here; listed for completeness
PATH_CLASS[0x23] = 0; // '#'
PATH_CLASS[0x25] = 3;
for (let c = 0x30; c <= 0x39; c++) UNRESERVED[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) UNRESERVED[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) UNRESERVED[c] = 1;
for (const ch of '-._~') UNRESERVED[ch.charCodeAt(0)] = 1;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function refuse(why: string): never {
  throw new GatehouseError('bad_request', `request target refused: ${why}`);
}

/** Canonical spelling of one raw path segment (no '/' inside). */
function canonicalSegment(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    const cls = c < 128 ? PATH_CLASS[c]! : 0;
    if (cls === 1) {
      out += raw[i];
    } else if (cls === 2) {
      out += `%${HEX[c >> 4]}${HEX[c & 15]}`;
    } else if (cls === 3) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) refuse('invalid percent-encoding');
      const byte = (hi << 4) | lo;
      if (byte < 0x20 || byte === 0x7f) refuse('encoded control character');
      if (byte === 0x2f || byte === 0x5c) refuse('encoded path separator');
      out += byte < 128 && UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : `%${HEX[hi]}${HEX[lo]}`;
      i += 2;
    } else if (c < 0x20 || c === 0x7f) {
      refuse('control character');
    } else if (c === 0x20) {
      refuse('space');
    } else if (c >= 128) {
      refuse('raw non-ASCII character');
    } else {
      refuse(`character "${raw[i]}" in path`);
    }
  }
  return out;
}

/**
 * True when `raw` is already canonical: only characters kept as is, no empty segment, and no
 * '.' or '..' segment. Most real paths are, and this check allocates nothing.
 */
function isCanonicalPath(raw: string): boolean {
  let segmentStart = 1;
  for (let i = 1; i <= raw.length; i++) {
    const c = i === raw.length ? 47 : raw.charCodeAt(i);
    if (c === 47) {
      const len = i - segmentStart;
      if (len === 0) return i === raw.length; // only a trailing slash may end empty
      if (
        raw.charCodeAt(segmentStart) === 46 &&
        (len === 1 || (len === 2 && raw.charCodeAt(segmentStart + 1) === 46))
      ) {
        return false;
      }
      segmentStart = i + 1;
    } else if (c >= 128 || PATH_CLASS[c] !== 1) {
      return false;
    }
  }
  return true;
}

function canonicalPath(raw: string): string {
  if (isCanonicalPath(raw)) return raw;
  const segments: string[] = [];
  const parts = raw.split('/');
  // parts[0] is '' (the path starts with '/'); the last part decides the trailing slash.
  let trailingSlash = false;
  for (let i = 1; i < parts.length; i++) {
    const seg = canonicalSegment(parts[i]!);
    const last = i === parts.length - 1;
    if (seg === '' || seg === '.') {
      trailingSlash = last;
    } else if (seg === '..') {
      if (segments.length === 0) refuse('".." above the root');
      segments.pop();
      trailingSlash = last;
    } else {
      segments.push(seg);
      trailingSlash = false;
    }
  }
  if (segments.length === 0) return '/';
  const path = `/${segments.join('/')}`;
  return trailingSlash ? `${path}/` : path;
}

function canonicalQuery(raw: string): string {
  let plain = true;
  for (let i = 0; i < raw.length && plain; i++) {
    const c = raw.charCodeAt(i);
    plain = c < 128 && QUERY_CLASS[c] === 1;
  }
  if (plain) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    const cls = c < 128 ? QUERY_CLASS[c]! : 0;
    if (cls === 1) out += raw[i];
    else if (cls === 2) out += `%${HEX[c >> 4]}${HEX[c & 15]}`;
    else refuse(c >= 128 ? 'raw non-ASCII character in query' : 'control character or space in query');
  }
  return out;
}

/**
 * Parses an origin-form request target (`req.url`, or an `X-Original-URI` in auth_request mode).
 * @throws GatehouseError `bad_request` for anything listed in the module comment.
 */
export function parseRequestTarget(rawUrl: string | undefined): RequestTarget {
  if (typeof rawUrl !== 'string' || rawUrl.length === 0) refuse('empty');
  if (rawUrl.length > MAX_TARGET_LENGTH) refuse('too long');
  if (rawUrl.charCodeAt(0) !== 0x2f) refuse('not origin-form');
  const hash = rawUrl.indexOf('#');
  const withoutFragment = hash === -1 ? rawUrl : rawUrl.slice(0, hash);
  const q = withoutFragment.indexOf('?');
  const rawPath = q === -1 ? withoutFragment : withoutFragment.slice(0, q);
  const rawQuery = q === -1 ? '' : withoutFragment.slice(q);
  return { path: canonicalPath(rawPath), search: canonicalQuery(rawQuery) };
}
