/**
 * Inbound header hygiene: a client must never be able to send an identity header that the
 * upstream mistakes for one Gatehouse set. Upstreams and the proxies between read header names
 * loosely – case-insensitively, and several (nginx with `underscores_in_headers on`, CGI/WSGI/PHP
 * `HTTP_X_AUTH_REQUEST_USER`, Rack) fold `_` and `-` together – so a name is compared after the
 * same folding: `X_Auth-Request_USER` is `x-auth-request-user`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { IDENTITY_HEADERS } from './headers.ts';

/**
 * Identity headers oauth2-proxy sets and Gatehouse does not. Deployments migrating from
 * oauth2-proxy (the endpoints are compatible on purpose) often have upstreams that still read
 * these; since Gatehouse never sets them, a client could otherwise forge them.
 */
export const OAUTH2_PROXY_HEADERS: readonly string[] = Object.freeze([
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'x-forwarded-groups',
  'x-forwarded-access-token',
  'gap-auth',
]);

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A header name as the loosest reader sees it: lower-case, with `_` and `.` read as `-`. A CGI
 * gateway turns every character of a name that is not a letter or digit into `_` (Apache's
 * `http2env` does), so `X.Auth.Request.User` and `X_Auth_Request_User` both arrive as
 * `HTTP_X_AUTH_REQUEST_USER`.
 */
export function normalizeHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-').replaceAll('.', '-');
}

/** True when `normalizeHeaderName(name)` differs from `name` (`_`, `.` or an upper-case letter). */
function needsFolding(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 95 || c === 46 || (c >= 65 && c <= 90) || c > 127) return true;
  }
  return false;
}

/**
 * A function that deletes, in place, every header whose normalized name is an identity header,
 * an oauth2-proxy identity header, the assertion header, or one of `extraHeaders`.
 *
 * It edits `req.headers` only: whatever forwards the request must build the upstream head from
 * that object, not from `req.rawHeaders` or `req.headersDistinct` (both still hold the originals).
 */
export function createInboundStripper(opts: {
  assertionHeader: string;
  extraHeaders?: readonly string[];
}): (headers: IncomingHttpHeaders) => void {
  const names = [
    ...IDENTITY_HEADERS,
    ...OAUTH2_PROXY_HEADERS,
    opts.assertionHeader,
    ...(opts.extraHeaders ?? []),
  ];
  for (const name of names) {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw Object.assign(new TypeError(`"${String(name)}" is not a valid header name`), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
  }
  const hostile = new Set(names.map(normalizeHeaderName));
  // The ASCII first characters a name that folds onto a hostile one can start with (both cases,
  // `_` for `-`): most names (host, accept, cookie, …) are ruled out by one table read. A first
  // character beyond ASCII takes the full check (`\u212a`, the Kelvin sign, lower-cases to `k`).
  const firstChars = new Uint8Array(128);
  for (const name of hostile) {
    const c = name.charCodeAt(0);
    firstChars[c] = 1;
    if (c >= 97 && c <= 122) firstChars[c - 32] = 1;
    if (c === 45) firstChars[95] = 1;
  }

  return (headers) => {
    // Object.keys is a snapshot, so deleting while iterating is safe.
    for (const name of Object.keys(headers)) {
      const first = name.charCodeAt(0);
      if (first < 128 && firstChars[first] === 0) continue;
      if (hostile.has(name) || (needsFolding(name) && hostile.has(normalizeHeaderName(name))))
        delete headers[name];
    }
  };
}
