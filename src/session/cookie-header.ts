/**
 * Just enough cookie syntax for Gatehouse's own cookies. The `Cookie` header is hostile input:
 * parsing never throws, keeps names and values as raw bytes (our values are iron seals, which
 * are already cookie-safe, so nothing is decoded), and is bounded.
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-4
 */

/** Most cookie pairs looked at in one header; the rest are ignored. */
const MAX_PAIRS = 200;

/**
 * `name=value` pairs in header order. Browsers send cookies of equal path in creation order
 * (RFC 6265 §5.4), which is how the login-cookie bound finds the oldest one.
 */
export function parseCookieHeader(header: string | undefined): Array<[name: string, value: string]> {
  const out: Array<[string, string]> = [];
  if (!header) return out;
  let start = 0;
  while (start < header.length && out.length < MAX_PAIRS) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const pair = header.slice(start, end);
    start = end + 1;
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name) out.push([name, value]);
  }
  return out;
}

export interface CookieAttributes {
  path: string;
  /** seconds; 0 deletes */
  maxAge: number;
  secure: boolean;
  domain?: string | undefined;
}

/** A `Set-Cookie` value: always HttpOnly and SameSite=Lax (the login redirect back is a GET). */
export function serializeCookie(name: string, value: string, attrs: CookieAttributes): string {
  let out = `${name}=${value}; Path=${attrs.path}; Max-Age=${Math.max(0, Math.floor(attrs.maxAge))}`;
  if (attrs.domain) out += `; Domain=${attrs.domain}`;
  out += '; HttpOnly; SameSite=Lax';
  if (attrs.secure) out += '; Secure';
  return out;
}
