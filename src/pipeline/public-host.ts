/**
 * public host: a browser that opens Gatehouse on another name for the same listener
 * (`http://localhost:8080/` when `public_url` is `http://127.0.0.1:8080`) can never log in
 * there: the session cookie is set on the public host, and the return target, built from the
 * `Host` it used, is refused as off-site (`redirect_rejected`). So such a request is sent to the
 * same path on `public_url` first: a navigation (GET/HEAD) gets a 302 there, anything else a 421
 * `wrong_host` that names the address to open. Host names are compared, not ports: the cookie
 * does not depend on the port, and a front proxy often drops it.
 *
 * Only in proxy mode and only where it matters: browser login is configured, the request carries
 * no `Authorization` (a bearer token is valid on any host), the host is neither a route's
 * `match.host` nor in `server.allowed_redirect_domains`, and the path is not an edge proxy's or
 * API endpoint (`{prefix}/auth` and friends keep their own rules). Never an open redirect: the
 * target's origin is always `public_url`'s, whatever the request said.
 */
import type { IncomingMessage } from 'node:http';
import { isAllowedHost } from '../oidc/redirect.ts';
import { splitHost } from '../policy/route-table.ts';
import type { Verdict } from './check.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

/** `{prefix}/…` endpoints a browser opens itself; the others are for proxies, IdPs and APIs. */
const BROWSER_ENDPOINTS: ReadonlySet<string> = new Set(['start', 'sign_in', 'sign_out']);

export const WRONG_HOST: Verdict = { outcome: 'error', reason: 'wrong_host' };

interface HostRule {
  /** `public_url`'s host name (no port: cookies are per host name, and nginx's `$host` drops it) */
  readonly publicHost: string;
  /** route hosts and allowed redirect domains: hosts served as they are */
  readonly served: readonly string[];
}

/** One rule per runtime (a reload builds a new one), computed on first use. */
const rules = new WeakMap<Runtime, HostRule | null>();

function ruleOf(rt: Runtime): HostRule | null {
  let rule = rules.get(rt);
  if (rule === undefined) {
    const origin = rt.publicOrigin;
    rule =
      origin === undefined || rt.login === undefined
        ? null
        : {
            publicHost: origin.hostname.toLowerCase(),
            served: [
              ...rt.config.routes.flatMap((r) => (r.match.host === undefined ? [] : [r.match.host])),
              ...rt.config.server.allowed_redirect_domains,
            ],
          };
    rules.set(rt, rule);
  }
  return rule;
}

/**
 * {@link WRONG_HOST} when the request must move to `public_url` first, else undefined.
 * @param endpoint the `{prefix}/…` name the path addresses, if any
 */
export function checkPublicHost(
  req: IncomingMessage,
  scope: Scope,
  rt: Runtime,
  endpoint: string | undefined,
): Verdict | undefined {
  const rule = ruleOf(rt);
  if (rule === null || scope.host === '') return undefined;
  if (endpoint !== undefined && !BROWSER_ENDPOINTS.has(endpoint)) return undefined;
  if (req.headers.authorization !== undefined) return undefined;
  // Host names only: a port the front proxy left out (`proxy_set_header Host $host`) or changed
  // is no mismatch for the session cookie, which is scoped to the name.
  if (splitHost(scope.host).name === rule.publicHost) return undefined;
  let url: URL;
  try {
    url = new URL(`${scope.proto}://${scope.host}`);
  } catch {
    return WRONG_HOST;
  }
  return isAllowedHost(url, rule.served) ? undefined : WRONG_HOST;
}

/** Where a request on the wrong host should go: the same path and query on `public_url`. */
export function publicLocation(scope: Scope, publicOrigin: URL): string {
  const t = scope.target;
  return `${publicOrigin.origin}${t ? t.path + t.search : '/'}`;
}
