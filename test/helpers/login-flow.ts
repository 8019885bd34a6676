/**
 * Drive a browser login through Gatehouse and the dev IdP, following redirects by hand with a
 * {@link CookieJar}: `/start` → IdP `/auth` → dev login form (POSTed with any password) → IdP
 * resume → Gatehouse `/callback` → `rd`. Every hop is a real HTTP request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Dispatcher, request } from 'undici';
import { oidcProviders } from '../../src/config/providers.ts';
import { type Config, configSchema } from '../../src/config/schema.ts';
import { type DevIdp, type DevIdpOptions, startDevIdp } from '../../src/demo/dev-idp.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { createLoginEndpoints } from '../../src/oidc/login-endpoints.ts';
import type { EndpointOutcome } from '../../src/oidc/login-shared.ts';
import { createOidcClient, type OidcClient } from '../../src/oidc/oidc-client.ts';
import { createIdpDirectory } from '../../src/policy/idp-directory.ts';
import { createSessionCodec, type SessionCodec } from '../../src/session/cookie-codec.ts';
import { sessionClaimNames } from '../../src/session/session-data.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';
import type { CookieJar } from './cookie-jar.ts';

export interface LoginFlowResult {
  /** the last URL requested (the `rd` target, normally) */
  finalUrl: string;
  /** status of the last response */
  status: number;
  /** body of the last response */
  body: string;
  /** every URL requested, in order */
  visited: string[];
  /** the Location the callback answered with, if the callback redirected */
  callbackLocation?: string;
}

export interface LoginFlowOptions {
  /** stop before requesting a URL for which this returns true (e.g. the callback, to replay it) */
  stopBefore?(url: URL): boolean;
  /** most requests made (default 20) */
  maxHops?: number;
}

/**
 * Log `user` in starting at `startUrl` (usually `{prefix}/start?rd=…`). Redirects to another
 * origin than the start URL's or the IdP's are not followed after the callback: the result's
 * `finalUrl` is then that target, with `status` the callback's 302.
 */
export async function loginThroughIdp(
  startUrl: string,
  user: string,
  jar: CookieJar,
  opts: LoginFlowOptions = {},
): Promise<LoginFlowResult> {
  const visited: string[] = [];
  const startOrigin = new URL(startUrl).origin;
  let url = new URL(startUrl);
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  let callbackLocation: string | undefined;
  let submitted = false;
  const maxHops = opts.maxHops ?? 20;
  for (let hop = 0; hop < maxHops; hop++) {
    if (opts.stopBefore?.(url)) return { finalUrl: url.href, status: 0, body: '', visited, callbackLocation };
    visited.push(url.href);
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await request(url, { method, headers, body });
    jar.setFrom(url, res.headers['set-cookie']);
    const text = await res.body.text();
    const location = res.headers.location;
    if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
      const next = new URL(location, url);
      const fromCallback = url.pathname.endsWith('/callback') && url.origin === startOrigin;
      if (fromCallback) callbackLocation = next.href;
      if (fromCallback && next.origin !== startOrigin) {
        return { finalUrl: next.href, status: res.statusCode, body: text, visited, callbackLocation };
      }
      url = next;
      method = 'GET';
      body = undefined;
      continue;
    }
    const action = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(text)?.[1];
    if (res.statusCode === 200 && action && /name="login"/.test(text) && !submitted) {
      submitted = true;
      url = new URL(action.replaceAll('&amp;', '&'), url);
      method = 'POST';
      body = new URLSearchParams({ prompt: 'login', login: user, password: 'x' }).toString();
      continue;
    }
    return { finalUrl: url.href, status: res.statusCode, body: text, visited, callbackLocation };
  }
  throw new Error(`login flow did not finish within ${maxHops} requests: ${visited.join(' → ')}`);
}

/**
 * A tiny real server mounting the login endpoints on 127.0.0.1 next to a real dev IdP:
 * `{prefix}/start|callback|sign_out` go to the handlers; any other path reads the session
 * cookie and answers 200 with the `sub`, or 401 with the reason.
 */
export interface LoginHarness {
  readonly url: string;
  readonly prefix: string;
  readonly idp: DevIdp;
  readonly config: Config;
  readonly codec: SessionCodec;
  readonly client: OidcClient;
  /** the top-level claim names sessions keep */
  readonly claimNames: ReadonlySet<string>;
  readonly dispatcher: Dispatcher;
  readonly outcomes: EndpointOutcome[];
  close(): Promise<void>;
}

export interface LoginHarnessOptions {
  idp?: Omit<DevIdpOptions, 'redirectUris' | 'postLogoutRedirectUris'>;
  /** merged over the generated config before parsing */
  server?: Record<string, unknown>;
  oidc?: Record<string, unknown>;
  session?: Record<string, unknown>;
  now?: () => number;
}

export async function startLoginHarness(opts: LoginHarnessOptions = {}): Promise<LoginHarness> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const prefix = '/.gatehouse';
  const idp = await startDevIdp({
    ...opts.idp,
    redirectUris: [`${url}${prefix}/callback`],
    postLogoutRedirectUris: [`${url}/`, `${url}/bye`, `${url}/.gatehouse/signed_out`],
  });
  const config = configSchema.parse({
    server: { public_url: url, ...opts.server },
    oidc: {
      issuer: idp.issuer,
      client_id: idp.clientId,
      client_secret: idp.clientSecret,
      scopes: ['openid', 'profile', 'email', 'groups'],
      ...opts.oidc,
    },
    session: { secrets: ['harness-secret-0123456789abcdefghijklmnop'], ...opts.session },
    routes: [{ name: 'app', upstream: 'http://127.0.0.1:1', policy: { allow: [{ authenticated: true }] } }],
  });
  const dispatcher = createOutboundDispatcher({ timeoutMs: 5000 });
  const provider = oidcProviders(config)[0]!;
  const client = createOidcClient({ oidc: provider, dispatcher, log: silentLog });
  const claimNames = sessionClaimNames(config, createIdpDirectory(config).claimNames);
  client.start();
  await client.whenReady();
  const codec = createSessionCodec({
    session: config.session!,
    secure: false,
    cacheSize: 100,
    log: silentLog,
  });
  const endpoints = createLoginEndpoints({
    config,
    providers: [{ config: provider, client }],
    claimNames,
    codec,
    dispatcher,
    log: silentLog,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const outcomes: EndpointOutcome[] = [];
  const publicOrigin = new URL(url);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const ctx = { requestId: 'test', publicOrigin, prefix, clientIp: '127.0.0.1' };
    const handler =
      path === `${prefix}/start`
        ? endpoints.start
        : path === `${prefix}/callback`
          ? endpoints.callback
          : path === `${prefix}/sign_out`
            ? endpoints.signOut
            : undefined;
    const work = handler
      ? handler(req, res, ctx).then((o) => void outcomes.push(o))
      : codec.read(req.headers.cookie, opts.now?.()).then((read) => {
          if (read.session)
            res.writeHead(200, { 'content-type': 'text/plain' }).end(String(read.session.claims.sub));
          else res.writeHead(401, { 'content-type': 'text/plain' }).end(read.reason ?? 'no_credentials');
        });
    work.catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  return {
    url,
    prefix,
    idp,
    config,
    codec,
    client,
    claimNames,
    dispatcher,
    outcomes,
    async close() {
      client.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idp.close();
      await dispatcher.close();
    },
  };
}
