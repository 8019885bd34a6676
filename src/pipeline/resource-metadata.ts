/**
 * OAuth 2.0 Protected Resource Metadata for routes that take bearer tokens: how an agent or an
 * MCP client that was just refused finds out where to get a token. A 401 on such a route names
 * the document in its Bearer challenge (`resource_metadata="…"`); the document lists the
 * route's authorization servers (its bearer issuers), the scopes its rules ask for, and whether
 * tokens must be DPoP-bound. The client then reads the issuer's own discovery document.
 *
 * The document for the resource `https://api.example.com/agents` is served at
 * `https://api.example.com/.well-known/oauth-protected-resource/agents`, and its `resource` is
 * exactly that identifier (RFC 9728 §3.3). Only a GET/HEAD whose resource path reaches a
 * non-public route with `bearer` in `auth` (and `resource_metadata` left on) is answered here;
 * anything else at that path goes on to routing, so an upstream may still publish its own.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9728
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BearerIssuerConfig } from '../config/schema.ts';
import { acceptsProvider } from '../policy/idp-directory.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** A host that can go into a URL and a quoted header parameter unchanged. */
const PLAIN_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The resource path a metadata request names (`/` for the bare well-known path), else undefined. */
function resourcePath(path: string): string | undefined {
  if (!path.startsWith(RESOURCE_METADATA_PATH)) return undefined;
  const rest = path.slice(RESOURCE_METADATA_PATH.length);
  if (rest === '') return '/';
  return rest.charCodeAt(0) === 47 /* '/' */ ? rest : undefined;
}

/** A route that takes bearer tokens and needs one (a public route needs none), unless it opts out. */
function publishes(route: CompiledRoute | undefined): route is CompiledRoute {
  if (route === undefined || !route.config.resource_metadata || route.config.policy === 'public')
    return false;
  return route.config.auth.includes('bearer');
}

/**
 * Answers a metadata request and returns true, or returns false (the request goes on to
 * routing) when the path is not the metadata path or no bearer route covers its resource.
 */
export function serveResourceMetadata(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
): boolean {
  const path = resourcePath(scope.target!.path);
  if (path === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  if (!rt.bearer || !PLAIN_HOST.test(scope.host)) return false;
  const route = rt.routes.match(scope.host, path, 'GET');
  if (!publishes(route)) return false;
  const resource = `${clientOrigin(scope, rt.publicOrigin)}${path === '/' ? '' : path}`;
  const body = `${JSON.stringify(metadataFor(route, rt, resource))}\n`;
  res.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': 'public, max-age=300',
    'access-control-allow-origin': '*', // public metadata; browser-based agents read it cross-origin
    'content-length': Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  scope.route = route;
  scope.outcome = { decision: 'allow', reason: 'public_route', status: 200 };
  return true;
}

/** The metadata document of `route` for the resource identifier `resource`. */
export function metadataFor(route: CompiledRoute, rt: Pick<Runtime, 'config' | 'idps'>, resource: string) {
  const issuers = rt.config.bearer.filter((b) =>
    acceptsProvider(route.config.providers, rt.idps.forIssuer(b.issuer).name),
  );
  const scopes =
    route.config.policy === 'public' ? [] : route.config.policy.allow.flatMap((r) => r.scopes ?? []);
  const dpop = issuers.filter((b) => b.dpop !== 'off');
  return {
    resource,
    authorization_servers: [...new Set(issuers.map((b) => b.issuer))],
    bearer_methods_supported: ['header'],
    ...(scopes.length > 0 ? { scopes_supported: [...new Set(scopes)] } : {}),
    ...(dpop.length > 0 ? { dpop_signing_alg_values_supported: algorithmsOf(dpop) } : {}),
    dpop_bound_access_tokens_required: issuers.length > 0 && issuers.every((b) => b.dpop === 'required'),
  };
}

function algorithmsOf(issuers: readonly BearerIssuerConfig[]): string[] {
  return [...new Set(issuers.flatMap((b) => b.dpop_algorithms))];
}

/**
 * The `resource_metadata` URL a 401 on `route` names (its path prefix is the resource), or
 * undefined where the route publishes none or the host cannot be quoted as it is.
 */
export function resourceMetadataUrl(
  scope: Scope,
  route: CompiledRoute | undefined,
  rt: Partial<Pick<Runtime, 'config' | 'publicOrigin'>>,
): string | undefined {
  if (!rt.config?.bearer.length || !publishes(route) || !PLAIN_HOST.test(scope.host)) return undefined;
  const prefix = route.config.match.path === '/' ? '' : route.config.match.path.replace(/\/+$/, '');
  if (/["\\\s]/.test(prefix)) return undefined; // a quoted-string parameter cannot carry it as is
  return `${clientOrigin(scope, rt.publicOrigin)}${RESOURCE_METADATA_PATH}${prefix}`;
}

/**
 * The origin the client used: on `public_url`'s host its scheme (a TLS terminator in front may
 * not say `X-Forwarded-Proto`), elsewhere the scheme the request arrived with – as DPoP's `htu`.
 */
function clientOrigin(scope: Scope, publicOrigin: URL | undefined): string {
  const proto = publicOrigin?.host === scope.host ? publicOrigin.protocol.slice(0, -1) : scope.proto;
  return `${proto}://${scope.host}`;
}

/** Adds `resource_metadata="url"` to every Bearer challenge of a 401 (RFC 9728 §5.1). */
export function withResourceMetadata(challenges: string | string[], url: string): string | string[] {
  const add = (c: string) => (c.startsWith('Bearer ') ? `${c}, resource_metadata="${url}"` : c);
  return Array.isArray(challenges) ? challenges.map(add) : add(challenges);
}
