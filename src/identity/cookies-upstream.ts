/**
 * Gatehouse's own cookies (the sealed session, its chunks, the login-flow cookies) are of no use
 * to an upstream and are a credential: an upstream that logs or leaks them hands out the session.
 * They are removed from the `Cookie` header before the request goes upstream; every other cookie
 * passes untouched, in order, byte for byte (an upstream may sign or hash its cookie string).
 */

const COOKIE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIXES = ['__Host-', '__Secure-'] as const;

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 6) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * A matcher for the cookie names Gatehouse sets, given `session.cookie_name` (NAME):
 * `NAME`, the chunks `NAME.0` … `NAME.N`, the login cookies `NAME_login…` (the login flow names
 * them `NAME_login_<id>`), and each of those behind the `__Host-` or `__Secure-` prefix (the
 * session uses `__Secure-` when `cookie_domain` is set, since `__Host-` forbids a Domain).
 * Names are case-sensitive (RFC 6265 §5.4): `Gatehouse` or `gatehouse2` are someone else's.
 */
export function createOwnCookieMatcher(sessionCookieName: string): (name: string) => boolean {
  if (typeof sessionCookieName !== 'string' || !COOKIE_NAME.test(sessionCookieName)) {
    throw Object.assign(
      new TypeError(
        `"sessionCookieName" must be 1-64 characters of A-Z a-z 0-9 _ -, got "${sessionCookieName}"`,
      ),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
  }
  const base = sessionCookieName;
  const chunkPrefix = `${base}.`;
  const loginPrefix = `${base}_login`;
  const matchBare = (name: string): boolean =>
    name === base ||
    name.startsWith(loginPrefix) ||
    (name.startsWith(chunkPrefix) && isDigits(name.slice(chunkPrefix.length)));
  return (name) => {
    if (matchBare(name)) return true;
    for (const prefix of PREFIXES) {
      if (name.startsWith(prefix)) return matchBare(name.slice(prefix.length));
    }
    return false;
  };
}

/**
 * The `Cookie` header without the cookies `isOwn` claims, or undefined when none remain.
 * Pairs are split on `;` and a pair's name is the text before its first `=`, trimmed of spaces
 * (as browsers and the `cookie` parser read it). A pair without `=` has no name and is kept.
 */
export function stripOwnCookies(
  cookieHeader: string | undefined,
  isOwn: (name: string) => boolean,
): string | undefined {
  if (cookieHeader === undefined || cookieHeader.length === 0) return undefined;
  // The kept pairs joined by ';', as `split(';')`, filter and `join(';')` would give, in one pass.
  let kept = '';
  let keptAny = false;
  let removed = false;
  // The next '=' at or after `start` (Infinity: none left), so the header is scanned once in all.
  let nextEq = -1;
  for (let start = 0; start <= cookieHeader.length; ) {
    let end = cookieHeader.indexOf(';', start);
    if (end === -1) end = cookieHeader.length;
    if (nextEq < start) {
      nextEq = cookieHeader.indexOf('=', start);
      if (nextEq === -1) nextEq = Number.POSITIVE_INFINITY;
    }
    const eq = nextEq < end ? nextEq : -1;
    if (eq !== -1 && isOwn(cookieHeader.slice(start, eq).trim())) {
      removed = true;
    } else {
      const pair = cookieHeader.slice(start, end);
      kept = keptAny ? `${kept};${pair}` : pair;
      keptAny = true;
    }
    start = end + 1;
  }
  if (!removed) return cookieHeader;
  // Each kept pair keeps its own leading space; only the seam at the very start is trimmed.
  const out = kept.replace(/^[ \t]+/, '');
  return out.trim().length === 0 ? undefined : out;
}
