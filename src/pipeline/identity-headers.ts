/**
 * The headers an allowed request carries to its upstream (or, from `{prefix}/auth`, back to the
 * edge proxy): the plain identity headers and the signed assertion for the route's audience.
 * `identity.groups_filter` narrows the groups both carry; `identity.max_header_bytes` bounds
 * them together. Over the bound the request is refused here (`identity_headers_too_large`,
 * 500: the operator's config, not the client, must change) rather than by the upstream with a
 * 431 nobody can explain, or with a groups list silently missing.
 */
import { GatehouseError } from '../errors.ts';
import { originalUrl } from '../http/original-url.ts';
import { compileGroupsFilter, type GroupsFilter } from '../identity/groups-filter.ts';
import { identityHeaders as plainHeaders } from '../identity/headers.ts';
import type { Identity } from '../identity/identity.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import type { Forwarding, Observing } from './runtime.ts';
import type { Scope } from './scope.ts';

type IdentityConfig = Forwarding['config']['identity'];

/** A token that can follow `Bearer ` as it is (visible ASCII, no spaces: RFC 6750 §2.1). */
const TOKEN68 = /^[\x21-\x7e]+$/;

export async function identityHeaders(
  scope: Scope,
  rt: Pick<Forwarding, 'config' | 'assertions'> & Pick<Observing, 'log'>,
  route: CompiledRoute,
  method: string,
): Promise<Record<string, string>> {
  if (!scope.identity) return {};
  const cfg = rt.config.identity;
  const identity = filterOf(cfg).apply(scope.identity);
  const { pass_access_token, assertion, max_header_bytes: max } = cfg;
  const accessToken = pass_access_token === 'header' ? scope.accessToken : undefined;
  const headers = plainHeaders(identity, { accessToken, maxBytes: max });
  // The header mesh sidecars and API backends read; the client's own Authorization is replaced.
  if (pass_access_token === 'authorization' && scope.accessToken && TOKEN68.test(scope.accessToken))
    headers.authorization = `Bearer ${scope.accessToken}`;
  const name = rt.assertions.header.toLowerCase();
  headers[name] = await rt.assertions.sign(
    identity,
    route.audience,
    assertion.bind_request ? { method, url: originalUrl(scope) } : undefined,
  );
  let bytes = 0;
  for (const [key, value] of Object.entries(headers)) bytes += key.length + value.length + 4;
  if (bytes > max || dropped(identity, headers)) {
    rt.log.error(
      {
        request_id: scope.requestId,
        route: route.name,
        sub: identity.sub,
        groups: identity.groups.length,
        bytes,
        max_header_bytes: max,
        reason: 'identity_headers_too_large',
      },
      "identity headers and assertion exceed identity.max_header_bytes: set identity.groups_filter to send fewer groups, or raise max_header_bytes (and the upstream's header limit)",
    );
    throw new GatehouseError('identity_headers_too_large');
  }
  return headers;
}

/** A groups or roles list left out for size (a list is never sent cut short). */
function dropped(identity: Identity, headers: Record<string, string>): boolean {
  const plain = (values: readonly string[]) => values.some((v) => !v.includes(','));
  return (
    (headers['x-auth-request-groups'] === undefined && plain(identity.groups)) ||
    (headers['x-auth-request-roles'] === undefined && plain(identity.roles))
  );
}

/** One compiled filter per identity config object (a reload brings a new, frozen one). */
const filters = new WeakMap<IdentityConfig, GroupsFilter>();
function filterOf(cfg: IdentityConfig): GroupsFilter {
  let filter = filters.get(cfg);
  if (filter === undefined) {
    filter = compileGroupsFilter(cfg.groups_filter);
    filters.set(cfg, filter);
  }
  return filter;
}
