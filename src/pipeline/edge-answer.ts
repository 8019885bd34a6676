/**
 * The decision and answer for an edge proxy's subrequest (Caddy and Traefik forward auth, Envoy
 * ext_authz), once the entry point has set the scope's target and method to the original
 * request's. Refused: what the client should get, since these proxies pass it on (the
 * subrequest carries the original's headers: Accept and Sec-Fetch-Mode tell whether it was a
 * browser navigation). Allowed: 200 with the identity headers for the proxy to copy onto the
 * upstream request. Every
 * identity header is present, empty when the identity has no value for it (or the route is
 * public): a proxy copies the headers it is told to copy only when the answer has them, so a
 * missing one would leave a client's own `X-Auth-Request-User` in place.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IDENTITY_HEADERS } from '../identity/headers.ts';
import { check } from './check.ts';
import { credentialsOf } from './identify.ts';
import { EDGE_STYLE, respond } from './respond.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

export async function decideForEdge(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
): Promise<void> {
  const verdict = await check(scope, credentialsOf(req), rt);
  if (verdict.outcome !== 'allow')
    return respond(req, res, scope, verdict, rt, EDGE_STYLE, { method: scope.method, headers: req.headers });
  answerAllowed(res, scope, verdict.headers, rt);
}

function answerAllowed(
  res: ServerResponse,
  scope: Scope,
  identity: Record<string, string>,
  rt: Pick<Runtime, 'assertions'>,
): void {
  const headers: Record<string, string | string[]> = {
    'cache-control': 'no-store',
    'content-length': '0',
    ...blankIdentity(rt.assertions.header.toLowerCase()),
    ...identity,
  };
  if (scope.setCookies) headers['set-cookie'] = scope.setCookies;
  res.writeHead(200, headers);
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
