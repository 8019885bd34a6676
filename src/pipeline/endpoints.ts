/**
 * endpoints: `{prefix}/…` paths are served by Gatehouse itself, on any host, before routing.
 * Unknown names under the prefix are 404 – never passed upstream, so an upstream can never
 * be made to answer for Gatehouse's own paths.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReasonCode } from '../errors.ts';
import { DEFAULT_PAGES } from '../pages/pages.ts';
import { serveAuthRequest } from './auth-request.ts';
import { EXT_AUTHZ, serveExtAuthz } from './ext-authz.ts';
import { serveForwardAuth } from './forward-auth.ts';
import { API_STYLE, respond } from './respond.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';
import { serveSignIn } from './sign-in.ts';
import { serveUserinfo } from './userinfo.ts';

/**
 * The name of the Gatehouse endpoint `path` addresses (`auth`, `start`, `callback/NAME`, … –
 * anything under `{prefix}/`), or undefined for a path that goes on to routing. Synchronous, so
 * a proxied request pays no promise for not being an endpoint.
 */
export function endpointName(path: string, prefix: string): string | undefined {
  if (!path.startsWith(prefix) || path.charCodeAt(prefix.length) !== 47 /* '/' */) return undefined;
  return path.slice(prefix.length + 1);
}

/** Serves `{prefix}/<name>` (`name` from {@link endpointName}); unknown names are 404. */
export async function serveEndpoint(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
  endpoint: string,
): Promise<void> {
  let name = endpoint;
  // `callback/NAME`: each provider's own redirect_uri when several are configured.
  let provider: string | undefined;
  if (name.startsWith('callback/')) {
    provider = name.slice('callback/'.length);
    name = 'callback';
  }
  if (name === EXT_AUTHZ || name.startsWith(`${EXT_AUTHZ}/`)) name = EXT_AUTHZ; // the original path follows
  switch (name) {
    case 'auth':
      await serveAuthRequest(req, res, scope, rt);
      return;
    case EXT_AUTHZ:
      await serveExtAuthz(req, res, scope, rt);
      return;
    case 'forward_auth': // Caddy forward_auth, Traefik ForwardAuth
      await serveForwardAuth(req, res, scope, rt);
      return;
    case 'userinfo':
      await serveUserinfo(req, res, scope, rt);
      return;
    case 'jwks.json':
      res.writeHead(200, {
        'content-type': 'application/jwk-set+json',
        'cache-control': 'public, max-age=300',
      });
      res.end(JSON.stringify(rt.assertions.jwks()));
      scope.outcome = { decision: 'allow', reason: 'public_route', status: 200 };
      return;
    case 'signed_out': {
      // Where sign_out lands without an `rd` (the IdP's post-logout redirect too): a page that
      // says it worked. It reads no cookie and needs none.
      const pages = rt.pages ?? DEFAULT_PAGES;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        answer(req, res, scope, rt, 'bad_request');
        return;
      }
      const page = pages.signedOut(scope.requestId);
      res.writeHead(200, { ...pages.headers, 'content-length': Buffer.byteLength(page) });
      res.end(req.method === 'HEAD' ? undefined : page);
      scope.outcome = { decision: 'allow', reason: 'public_route', status: 200 };
      return;
    }
    case 'sign_in': // oauth2-proxy's name: a redirect to start, so its nginx configs work unchanged
      if (!rt.login) answer(req, res, scope, rt, 'login_not_configured');
      else serveSignIn(req, res, scope, rt);
      return;
    case 'start':
    case 'callback':
    case 'sign_out':
    case 'backchannel_logout': {
      if (!rt.login) {
        answer(req, res, scope, rt, 'login_not_configured');
        return;
      }
      const ctx = {
        requestId: scope.requestId,
        publicOrigin: rt.publicOrigin!,
        prefix: rt.prefix,
        clientIp: scope.clientIp,
        ...(rt.pages ? { pages: rt.pages } : {}),
      };
      const login = rt.login;
      const handler =
        name === 'start'
          ? login.start
          : name === 'callback'
            ? (rq: IncomingMessage, rs: ServerResponse, c: typeof ctx) => login.callback(rq, rs, c, provider)
            : name === 'sign_out'
              ? login.signOut
              : rt.backchannelLogout!;
      const done = await handler(req, res, ctx);
      if (name === 'callback')
        rt.metrics.logins.inc({
          result: done.outcome === 'ok' ? 'success' : 'failure',
          provider: callbackProvider(rt, provider),
        });
      scope.outcome = {
        decision: done.outcome === 'ok' ? 'allow' : 'error',
        reason: done.reason ?? (done.outcome === 'ok' ? 'public_route' : 'internal_error'),
      };
      if (done.sub) scope.outcomeIdentity = { sub: done.sub, email: done.email, idp: done.idp };
      return;
    }
    default:
      answer(req, res, scope, rt, 'route_not_found');
      return;
  }
}

/**
 * Whose answer a callback was: the provider of `/callback/NAME`, or the only one. The name in
 * the path is the caller's: anything but a configured provider is `unknown`, so no request can
 * add a label value.
 */
function callbackProvider(rt: Runtime, named: string | undefined): string {
  if (named !== undefined) return rt.oidcClients.has(named) ? named : 'unknown';
  return rt.oidcClients.size === 1 ? rt.oidcClients.keys().next().value! : 'unknown';
}

/** An endpoint that cannot serve here: answered like any error verdict. */
function answer(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
  code: ReasonCode,
): void {
  respond(req, res, scope, { outcome: 'error', reason: code }, rt, API_STYLE);
}
