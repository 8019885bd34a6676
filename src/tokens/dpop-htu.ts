/**
 * The `htu` of a DPoP proof against the URL of the request it came with, both in one normal
 * form: scheme and host lower-cased, the scheme's default port dropped (RFC 3986 §6.2.3), the
 * path in Gatehouse's canonical form (percent-encoding and dot-segments, §6.2.2, as
 * `parseRequestTarget` makes it), and no query or fragment (RFC 9449 §4.3 step 9 ignores them).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-6.2
 */
import { parseRequestTarget } from '../http/request-target.ts';

/** The longest `htu` looked at; a request target is at most 8 KiB anyway. */
const MAX_HTU = 8192;

/**
 * `htu` in normal form, or `undefined` when it is not an absolute http(s) URL (userinfo,
 * another scheme, a path Gatehouse would refuse as a request target).
 */
export function normalizeHtu(htu: unknown): string | undefined {
  if (typeof htu !== 'string' || htu.length > MAX_HTU) return undefined;
  let url: URL;
  try {
    url = new URL(htu);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '')
    return undefined;
  try {
    return `${url.protocol}//${url.host}${parseRequestTarget(url.pathname).path}`;
  } catch {
    return undefined;
  }
}

/** origin by `proto://host` as the scope holds them; hosts are the client's, so bounded */
const origins = new Map<string, string>();
const MAX_ORIGINS = 1024;

/**
 * The request's URL as the client addressed it, in the normal form of {@link normalizeHtu}.
 * @param host the scope's host: sanitized, lower-case, port kept
 * @param path the scope's already canonical target path
 */
export function requestHtu(proto: string, host: string, path: string): string {
  const key = `${proto}://${host}`;
  let origin = origins.get(key);
  if (origin === undefined) {
    try {
      const url = new URL(key);
      origin = `${url.protocol}//${url.host}`;
    } catch {
      origin = key; // an empty host: no proof's htu normalizes to this
    }
    if (origins.size >= MAX_ORIGINS) origins.clear();
    origins.set(key, origin);
  }
  return origin + path;
}
