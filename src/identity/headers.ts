/**
 * The plain identity headers sent upstream (or answered to nginx `auth_request`). Names follow
 * oauth2-proxy's `X-Auth-Request-*` so nginx configs written for it keep working.
 *
 * Every value comes from an IdP claim, i.e. from data an attacker may influence (a self-service
 * group name, a display name). A value that cannot be carried faithfully is dropped, never
 * repaired: a repaired value is a different value, and a different group name is a different
 * privilege.
 */
import type { Identity } from './identity.ts';

/** Lower-case names of every plain identity header Gatehouse sets. */
export const IDENTITY_HEADERS: readonly string[] = Object.freeze([
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-preferred-username',
  'x-auth-request-groups',
  'x-auth-request-roles',
  'x-auth-request-access-token',
]);

/**
 * Total bytes (names, values, `: ` and CRLF) the identity headers may take. nginx's default
 * `large_client_header_buffers` is 8k per line and node's `maxHeaderSize` 16 KiB for the whole
 * head, so a larger block would make the upstream answer 431 or 400 instead of serving the user.
 */
export const DEFAULT_MAX_IDENTITY_HEADER_BYTES = 16_384;

/** C0 controls (incl. CR, LF, NUL, TAB), DEL and C1 controls. */
const CONTROL = /\p{Cc}/u;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** An access token is a single opaque token68-ish value: visible ASCII only, no spaces. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/**
 * A header-safe form of `value`, or undefined when it cannot be carried faithfully:
 * - control characters (CR/LF/NUL/…) would split or truncate the header;
 * - leading/trailing spaces are removed by every HTTP parser (RFC 9110 §5.5), so ` admin`
 *   would arrive as `admin`;
 * - an ill-formed UTF-16 string has no UTF-8 encoding.
 * Non-ASCII text is sent as its UTF-8 bytes (node writes header strings as latin1, one byte per
 * char, so we pass the UTF-8 bytes as latin1 chars); this is what Go and nginx upstreams read.
 */
export function sanitizeHeaderValue(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (PRINTABLE_ASCII.test(value)) {
    return value.charCodeAt(0) === 0x20 || value.charCodeAt(value.length - 1) === 0x20 ? undefined : value;
  }
  if (CONTROL.test(value) || !value.isWellFormed()) return undefined;
  if (value.startsWith(' ') || value.endsWith(' ')) return undefined;
  return Buffer.from(value, 'utf8').toString('latin1');
}

/**
 * A comma-joined list. An element containing ',' is dropped: `X-Auth-Request-Groups: eng,admin`
 * cannot say whether it holds one group named "eng,admin" or the two groups "eng" and "admin",
 * and the second reading would hand out "admin". No escaping convention exists that upstreams
 * agree on, so such a group is only visible in the signed assertion.
 */
function joinList(values: readonly string[]): string | undefined {
  const kept: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string' || v.includes(',')) continue;
    const safe = sanitizeHeaderValue(v);
    if (safe !== undefined) kept.push(safe);
  }
  return kept.length === 0 ? undefined : kept.join(',');
}

/**
 * The identity headers for `identity`, keyed by lower-case name. Absent or unsafe values are left
 * out. When the block would exceed `maxBytes`, the headers that do not fit are left out whole, in
 * this order of importance: user, email, preferred username, roles, groups, access token. A list is
 * never cut short: a truncated list reads to the upstream like a complete one.
 */
export function identityHeaders(
  identity: Identity,
  opts: { accessToken?: string; maxBytes?: number } = {},
): Record<string, string> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_IDENTITY_HEADER_BYTES;
  // The identity's own headers depend on nothing else: computed once per frozen identity (the
  // token and session caches hand out the same Identity object on every warm request).
  const cacheable =
    maxBytes === DEFAULT_MAX_IDENTITY_HEADER_BYTES &&
    Object.isFrozen(identity) &&
    Object.isFrozen(identity.groups) &&
    Object.isFrozen(identity.roles);
  let base = cacheable ? byIdentity.get(identity) : undefined;
  if (base === undefined) {
    base = ownHeaders(identity, maxBytes);
    if (cacheable) byIdentity.set(identity, base);
  }
  const out: Record<string, string> = { ...base.headers };
  // The access token comes last, and only if it fits after the identity's own headers.
  const token = opts.accessToken;
  if (token !== undefined && TOKEN_CHARS.test(token)) {
    const name = 'x-auth-request-access-token';
    if (base.used + name.length + token.length + 4 <= maxBytes) out[name] = token;
  }
  return out;
}

interface OwnHeaders {
  readonly headers: Readonly<Record<string, string>>;
  /** bytes they take, counted as `identityHeaders` counts */
  readonly used: number;
}
const byIdentity = new WeakMap<Identity, OwnHeaders>();

function ownHeaders(identity: Identity, maxBytes: number): OwnHeaders {
  const out: Record<string, string> = {};
  let used = 0;
  const add = (name: string, value: string | undefined): void => {
    if (value === undefined) return;
    const cost = name.length + value.length + 4;
    if (used + cost > maxBytes) return;
    used += cost;
    out[name] = value;
  };
  add('x-auth-request-user', sanitizeHeaderValue(identity.sub));
  if (identity.email !== undefined) add('x-auth-request-email', sanitizeHeaderValue(identity.email));
  if (identity.preferredUsername !== undefined) {
    add('x-auth-request-preferred-username', sanitizeHeaderValue(identity.preferredUsername));
  }
  add('x-auth-request-roles', joinList(identity.roles));
  add('x-auth-request-groups', joinList(identity.groups));
  return { headers: out, used };
}
