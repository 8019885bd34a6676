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
  const headers: Record<string, string | string[]> = {
    'cache-control': 'no-store',
    'content-length': '0',
    ...blankIdentity(rt.assertions.header.toLowerCase()),
    ...identity,
  };
  if (scope.setCookies) headers['set-cookie'] = scope.setCookies;
  res.writeHead(status, headers);
  res.end();
}

/**
 * Every identity header name with an empty value: the defaults an allowed answer overrides. One
 * frozen object per assertion header name (it changes only with a reload), spread per answer.
 */
function blankIdentity(assertionHeader: string): Readonly<Record<string, string>> {
  let blank = blanks.get(assertionHeader);
  if (blank === undefined) {
    const out: Record<string, string> = { [assertionHeader]: '' };
    for (const name of IDENTITY_HEADERS) out[name] = '';
    blank = Object.freeze(out);
    if (blanks.size > 8) blanks.clear(); // bounded: reloads that rename the header again and again
    blanks.set(assertionHeader, blank);
  }
  return blank;
}
const blanks = new Map<string, Readonly<Record<string, string>>>();
