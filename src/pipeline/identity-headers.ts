/**
 * The headers an allowed request carries to its upstream (or, from `{prefix}/auth`, back to the
 * edge proxy): the plain identity headers and the signed assertion for the route's audience.
 */
import { originalUrl } from '../http/original-url.ts';
import { identityHeaders as plainHeaders } from '../identity/headers.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import type { Forwarding } from './runtime.ts';
import type { Scope } from './scope.ts';

export async function identityHeaders(
  scope: Scope,
  rt: Pick<Forwarding, 'config' | 'assertions'>,
  route: CompiledRoute,
  method: string,
): Promise<Record<string, string>> {
  const identity = scope.identity;
  if (!identity) return {};
  const { pass_access_token, assertion } = rt.config.identity;
  const headers = plainHeaders(identity, { accessToken: pass_access_token ? scope.accessToken : undefined });
  headers[rt.assertions.header.toLowerCase()] = await rt.assertions.sign(
    identity,
    route.audience,
    assertion.bind_request ? { method, url: originalUrl(scope) } : undefined,
  );
  return headers;
}
