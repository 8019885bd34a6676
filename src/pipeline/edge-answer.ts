/**
 * The allow answer to an edge proxy's subrequest (Caddy and Traefik forward auth, Envoy
 * ext_authz): the identity headers for the proxy to copy onto the upstream request. Every
 * identity header is present, empty when the identity has no value for it (or the route is
 * public): a proxy copies the headers it is told to copy only when the answer has them, so a
 * missing one would leave a client's own `X-Auth-Request-User` in place.
 */
import type { ServerResponse } from 'node:http';
import { IDENTITY_HEADERS } from '../identity/headers.ts';
import type { Forwarding } from './runtime.ts';
import type { Scope } from './scope.ts';

export function answerAllowed(
  res: ServerResponse,
  scope: Scope,
  identity: Record<string, string>,
  rt: Pick<Forwarding, 'assertions'>,
  status: number,
): void {
  const headers: Record<string, string | string[]> = { 'cache-control': 'no-store', 'content-length': '0' };
  for (const name of IDENTITY_HEADERS) headers[name] = '';
  headers[rt.assertions.header.toLowerCase()] = '';
  Object.assign(headers, identity);
  if (scope.setCookies) headers['set-cookie'] = scope.setCookies;
  res.writeHead(status, headers);
  res.end();
}
