/**
 * The original request of an nginx `auth_request` subrequest, from the headers the edge proxy
 * describes it with (read only from a trusted peer):
 * - `X-Original-URI` (Gatehouse's shipped snippets), `X-Forwarded-Uri` (oauth2-proxy's nginx
 *   examples): the raw path and query;
 * - `X-Original-URL` (ingress-nginx, which always sets it): the whole URL.
 *
 * nginx passes the client's own headers on to the subrequest unless the config clears them, and
 * each config overwrites only the header it sets: a client's `X-Original-URI` rode along beside
 * ingress-nginx's `X-Original-URL`, or beside the `X-Forwarded-Uri` of an oauth2-proxy config,
 * and was believed (a public path decided a request for `/admin`). So every description present
 * must name the same target, or the request is refused (400); none of them wins over another.
 */
import { GatehouseError } from '../errors.ts';
import { parseRequestTarget, type RequestTarget } from './request-target.ts';

export interface OriginalRequest {
  readonly target: RequestTarget;
  /** the host of `X-Original-URL`, when it is the only description (ingress-nginx) */
  readonly host?: string;
}

/** `http(s)://authority/path?query` → authority and raw path + query; no normalizing. */
const FULL_URL = /^https?:\/\/([^/?#]+)(\/[^#]*)?$/i;
/** A host we will route on and echo into redirects: hostname[:port] characters only. */
const HOST = /^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/;

/**
 * @param get the one value of a header (repeats already refused)
 * @returns undefined when no header describes the original request
 * @throws GatehouseError `bad_request` for a malformed or conflicting description
 */
export function originalRequest(get: (name: string) => string | undefined): OriginalRequest | undefined {
  const uri = get('x-original-uri') || undefined;
  const forwarded = get('x-forwarded-uri') || undefined;
  const url = get('x-original-url') || undefined;
  let fromUrl: { host: string; path: string } | undefined;
  if (url !== undefined) {
    const m = FULL_URL.exec(url);
    const host = m?.[1]?.toLowerCase();
    if (!m || !host || host.length > 255 || !HOST.test(host))
      throw new GatehouseError('bad_request', 'X-Original-URL is not an absolute http(s) URL');
    fromUrl = { host, path: m[2] ?? '/' };
  }
  const described = [uri, forwarded, fromUrl?.path].filter((v) => v !== undefined);
  if (described.length === 0) return undefined;
  const targets = described.map((raw) => parseRequestTarget(raw)); // a bad one → 400
  const target = targets[0]!;
  if (targets.some((t) => t.path !== target.path || t.search !== target.search))
    throw new GatehouseError('bad_request', 'conflicting descriptions of the original request');
  const onlyUrl = uri === undefined && forwarded === undefined && fromUrl !== undefined;
  return onlyUrl ? { target, host: fromUrl!.host } : { target };
}
