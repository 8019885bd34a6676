/**
 * Post-login and post-logout redirect targets (`rd`). The value arrives in a query string an
 * attacker can write, so it is an open-redirect vector unless every spelling a browser could
 * read as "another host" is refused: protocol-relative `//evil`, backslashes (browsers treat
 * `/\evil` as `//evil`), `https:evil` (scheme-relative), userinfo (`https://app@evil`),
 * percent-encoded slashes that a later hop decodes, control characters that browsers strip
 * (`/\t/evil` → `//evil`), and `javascript:` URLs.
 *
 * The result is what was checked: the normalized path, or the normalized absolute URL – never
 * the raw input – so no later reader can parse it differently.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Unvalidated_Redirects_and_Forwards_Cheat_Sheet.html
 */

/** Longest `rd` accepted. */
const MAX_LENGTH = 2048;
/** Only visible ASCII: whitespace, controls and non-ASCII have no business in a redirect. */
const NOT_VISIBLE_ASCII = /[^\x21-\x7e]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const DECODED_UNSAFE = /[\u0000-\u001f\u007f\\]/;

/**
 * A safe redirect target for `rd`, or undefined when it is absent or refused (the caller
 * answers `redirect_rejected`, or uses `/` when `rd` was absent).
 * @param allowedDomains exact hosts (`docs.example.com`, `example.com:8443`) or `.example.com`
 *   / `*.example.com` for any subdomain
 */
export function safeRedirect(
  rd: string | undefined | null,
  publicOrigin: URL,
  allowedDomains: readonly string[],
): string | undefined {
  if (typeof rd !== 'string' || rd.length === 0 || rd.length > MAX_LENGTH) return undefined;
  if (NOT_VISIBLE_ASCII.test(rd) || rd.includes('\\')) return undefined;
  // Decode once and re-check: a proxy or app that decodes `%2F%2Fevil.com` must not find a host.
  let decoded: string;
  try {
    decoded = decodeURIComponent(rd);
  } catch {
    return undefined;
  }
  if (DECODED_UNSAFE.test(decoded)) return undefined;
  const target = classify(rd, publicOrigin, allowedDomains);
  if (target === undefined) return undefined;
  if (decoded !== rd && classify(decoded, publicOrigin, allowedDomains) === undefined) return undefined;
  return target;
}

function classify(value: string, origin: URL, allowed: readonly string[]): string | undefined {
  if (value.startsWith('/')) {
    if (value.startsWith('//')) return undefined;
    let url: URL;
    try {
      url = new URL(value, origin);
    } catch {
      return undefined;
    }
    // Defense in depth: whatever the string looked like, it must resolve to our own origin.
    if (url.origin !== origin.origin) return undefined;
    return `${url.pathname}${url.search}${url.hash}`;
  }
  // Absolute: the scheme must be followed by `//` (refuses `https:evil.com` and `javascript:`).
  if (!/^https?:\/\/[^/]/i.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.username !== '' || url.password !== '') return undefined;
  if (url.origin === origin.origin) return url.href;
  const schemeOk = url.protocol === 'https:' || (url.protocol === 'http:' && origin.protocol === 'http:');
  if (!schemeOk || !isAllowedHost(url, allowed)) return undefined;
  return url.href;
}

/** Does `url`'s host match one of the `allowed_redirect_domains` entries? */
export function isAllowedHost(url: URL, allowed: readonly string[]): boolean {
  const hostname = url.hostname.toLowerCase();
  const host = url.host.toLowerCase();
  for (const raw of allowed) {
    const entry = raw.trim().toLowerCase();
    if (entry.length === 0) continue;
    const suffix = entry.startsWith('*.') ? entry.slice(1) : entry.startsWith('.') ? entry : undefined;
    if (suffix !== undefined) {
      if (suffix.length > 1 && hostname.endsWith(suffix) && hostname.length > suffix.length) return true;
    } else if (entry.includes(':') ? host === entry : hostname === entry) {
      return true;
    }
  }
  return false;
}
