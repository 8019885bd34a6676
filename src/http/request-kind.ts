/**
 * What kind of client sent a request that needs sign-in: a top-level browser navigation, which
 * can follow a 302 to the IdP, or a script (XHR / `fetch`), which cannot – a redirect to another
 * origin ends in an opaque CORS error the page cannot tell from a network failure. Every entry
 * point's answer (proxy mode, `{prefix}/auth`, forward-auth, ext_authz) asks these two functions,
 * so the 302-or-401 choice is made in one place.
 * @see https://www.w3.org/TR/fetch-metadata/#sec-fetch-mode-header
 */
import type { IncomingHttpHeaders } from 'node:http';
import { acceptQuality } from './send-error.ts';

export interface RequestHead {
  readonly method?: string;
  readonly headers: IncomingHttpHeaders;
}

/** Sec-Fetch-Mode values a script's request carries (a navigation says `navigate`). */
const SCRIPT_MODES = new Set(['cors', 'same-origin']);

/**
 * A script's request: `Sec-Fetch-Mode: cors|same-origin`, any `X-Requested-With` (jQuery,
 * Angular and many SPA clients set it), or an `Accept` that ranks JSON above HTML.
 */
export function isScriptRequest(req: RequestHead): boolean {
  const h = req.headers;
  if (h['x-requested-with'] !== undefined) return true;
  const mode = h['sec-fetch-mode'];
  if (typeof mode === 'string' && SCRIPT_MODES.has(mode.toLowerCase())) return true;
  const accept = h.accept;
  if (!accept) return false;
  const json = acceptQuality(accept, 'application/json');
  return json > 0 && json > acceptQuality(accept, 'text/html');
}

/**
 * A top-level browser navigation that can follow a redirect to the IdP: GET or HEAD, no
 * `Authorization` (an API client wants a 401), `Sec-Fetch-Mode` absent or `navigate`, an
 * `Accept` naming HTML, and nothing saying it is a script's request.
 */
export function wantsRedirect(req: RequestHead): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (req.headers.authorization) return false;
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined && mode !== 'navigate') return false;
  if (isScriptRequest(req)) return false;
  return (req.headers.accept ?? '').includes('text/html');
}

/**
 * The page a script's sign-in should return to: its `Referer` when that is on the request's own
 * origin (the page that made the call, not the API URL it called), else the request URL itself.
 * A cross-origin Referer is never used: `{prefix}/start` would refuse it anyway.
 */
export function returnTarget(requestUrl: string, referer: string | string[] | undefined): string {
  if (typeof referer !== 'string' || referer.length > 8192) return requestUrl;
  try {
    const page = new URL(referer);
    return page.origin === new URL(requestUrl).origin ? page.href : requestUrl;
  } catch {
    return requestUrl;
  }
}
