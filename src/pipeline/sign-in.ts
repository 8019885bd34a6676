/**
 * `{prefix}/sign_in`: oauth2-proxy's sign-in page, kept so nginx configs written for it work
 * unchanged with `endpoints_prefix: /oauth2` (`error_page 401 = /oauth2/sign_in;`). It is a
 * redirect to `{prefix}/start` – no provider button to click – whose body is also a small page
 * with a sign-in link, for configs that force the status (`error_page 401 =403 /oauth2/sign_in;`,
 * where the browser shows the body instead of following the Location).
 *
 * The post-login target is `?rd=` or, from a trusted proxy only, `X-Auth-Request-Redirect` (the
 * header oauth2-proxy's nginx examples set to `$request_uri`). Passing it in a header is what
 * makes it exact: nginx has no way to percent-encode `$request_uri` into a query parameter, so
 * `?rd=$request_uri` loses everything after the original's first `&`. Here it is encoded once;
 * `{prefix}/start` validates it (`safeRedirect`), so this endpoint never judges or follows it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isScriptRequest, returnTarget } from '../http/request-kind.ts';
import { sendError } from '../http/send-error.ts';
import { DEFAULT_PAGES } from '../pages/pages.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

export function serveSignIn(req: IncomingMessage, res: ServerResponse, scope: Scope, rt: Runtime): void {
  const query = new URLSearchParams(scope.target!.search);
  const header = req.headers['x-auth-request-redirect'];
  const fromProxy =
    rt.isTrustedProxy(req.socket.remoteAddress) && typeof header === 'string' ? header : undefined;
  const rd = query.get('rd') || fromProxy;
  const startPath = `${rt.prefix}/start`;
  const start = rt.publicOrigin ? new URL(startPath, rt.publicOrigin).href : startPath;
  const location = rd ? `${start}?rd=${encodeURIComponent(rd)}` : start;
  // nginx's `error_page 401` lands a page's fetch/XHR here too, with the browser's headers: a
  // redirect to the IdP would end in a CORS error, so it gets the 401 JSON naming where to sign
  // in – back to the page that made the call (a same-origin Referer), else the URL it called.
  if (isScriptRequest(req)) {
    const back = returnTarget(absolute(rd, `${scope.proto}://${scope.host}/`), req.headers.referer);
    scope.outcome = { decision: 'login', reason: 'no_credentials', status: 401 };
    sendError(req, res, 'no_credentials', {
      requestId: scope.requestId,
      headers: { 'www-authenticate': 'Bearer realm="gatehouse"' },
      signInUrl: `${start}?rd=${encodeURIComponent(back)}`,
    });
    return;
  }
  const pages = rt.pages ?? DEFAULT_PAGES;
  const body = pages.signIn(location, scope.requestId);
  res.writeHead(302, {
    ...pages.headers,
    location,
    'content-length': Buffer.byteLength(body),
    'x-request-id': scope.requestId,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  scope.outcome = { decision: 'login', reason: 'no_credentials', status: 302 };
}

/** `rd` made absolute on `here` (`{prefix}/start` judges it again); `here` when it is unusable. */
function absolute(rd: string | undefined, here: string): string {
  if (!rd) return here;
  try {
    return new URL(rd, here).href;
  } catch {
    return here;
  }
}
