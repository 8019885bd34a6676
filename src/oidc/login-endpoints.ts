/**
 * The browser login endpoints – `{prefix}/start`, `{prefix}/callback`, `{prefix}/sign_out` –
 * built once per config. Each handler writes its own response and returns what happened for
 * the audit line; every failure ends on a `sendError` page with a reason code and never
 * creates a session.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Config } from '../config/schema.ts';
import type { ReasonCode } from '../errors.ts';
import type { Log } from '../observe/logger.ts';
import { sendError } from '../pipeline/respond-error.ts';
import type { SessionCodec } from '../session/cookie-codec.ts';
import { type SessionData, sessionClaimNames } from '../session/session-data.ts';
import { handleCallback } from './login-callback.ts';
import { handleStart } from './login-start.ts';
import { createLoginCookies, type LoginCookies } from './login-state.ts';
import type { OidcClient } from './oidc-client.ts';
import { handleSignOut } from './sign-out.ts';

export interface EndpointContext {
  requestId: string;
  publicOrigin: URL;
  /** `server.endpoints_prefix` */
  prefix: string;
  clientIp: string;
}

export interface EndpointOutcome {
  outcome: 'ok' | 'error';
  reason?: ReasonCode;
  sub?: string;
  email?: string;
}

export type EndpointHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
) => Promise<EndpointOutcome>;

export interface LoginEndpoints {
  start: EndpointHandler;
  callback: EndpointHandler;
  signOut: EndpointHandler;
}

export interface LoginDeps {
  config: Config;
  client: OidcClient;
  codec: SessionCodec;
  dispatcher: Dispatcher;
  log: Log;
  /** a session was created (metrics, store) */
  onSession?(s: SessionData): void;
  /** a session was signed out (revocation store) */
  onSignOut?(s: SessionData): void | Promise<void>;
  /**
   * Mark a login `state` used (the store's one-time marker, shared by replicas): false when it
   * was used before. Throws when the store cannot answer.
   */
  claimState?(state: string, ttlMs: number): Promise<boolean>;
  /** `store_fail_open`: a store that cannot answer does not block logins */
  storeFailOpen?: boolean;
}

/** What the three handlers share, derived once from the config. */
export interface LoginShared extends LoginDeps {
  oidc: NonNullable<Config['oidc']>;
  cookies: LoginCookies;
  claimNames: ReadonlySet<string>;
  /** public_url + prefix + /callback, registered at the IdP */
  redirectUri: string;
  /** public_url without a trailing slash */
  publicUrl: string;
  now(): number;
}

/** @throws TypeError `ERR_INVALID_ARG_VALUE` when `oidc`, `session` or `server.public_url` is missing */
export function createLoginEndpoints(deps: LoginDeps & { now?: () => number }): LoginEndpoints {
  const { config } = deps;
  if (!config.oidc || !config.session || !config.server.public_url) {
    throw Object.assign(new TypeError('login needs "oidc", "session" and "server.public_url"'), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const publicUrl = config.server.public_url.replace(/\/+$/, '');
  const secure = publicUrl.startsWith('https:');
  const prefix = config.server.endpoints_prefix;
  const shared: LoginShared = {
    ...deps,
    oidc: config.oidc,
    cookies: createLoginCookies({
      cookieName: config.session.cookie_name,
      secrets: config.session.secrets,
      secure,
      path: prefix,
      loginTimeoutMs: config.oidc.login_timeout,
    }),
    claimNames: sessionClaimNames(config),
    redirectUri: `${publicUrl}${prefix}/callback`,
    publicUrl,
    now: deps.now ?? Date.now,
    log: deps.log.child({ component: 'login' }),
  };
  return {
    start: (req, res, ctx) => handleStart(shared, req, res, ctx),
    callback: (req, res, ctx) => handleCallback(shared, req, res, ctx),
    signOut: (req, res, ctx) => handleSignOut(shared, req, res, ctx),
  };
}

/** Answer with an error page (plus any Set-Cookie already decided) and report it. */
export function fail(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
  code: ReasonCode,
  setCookies: readonly string[] = [],
  headers: Record<string, string> = {},
): EndpointOutcome {
  sendError(req, res, code, {
    requestId: ctx.requestId,
    headers: setCookies.length > 0 ? { ...headers, 'Set-Cookie': [...setCookies] } : headers,
  });
  return { outcome: 'error', reason: code };
}

/** A 302 that no cache keeps and whose target learns nothing of where it came from. */
export function redirect(res: ServerResponse, location: string, setCookies: readonly string[]): void {
  const headers: Record<string, string | string[]> = {
    Location: location,
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
  };
  if (setCookies.length > 0) headers['Set-Cookie'] = [...setCookies];
  res.writeHead(302, headers).end();
}

/** The request URL's query, parsed against our origin; never throws. */
export function queryOf(req: IncomingMessage, ctx: EndpointContext): URLSearchParams {
  try {
    return new URL(req.url ?? '/', ctx.publicOrigin).searchParams;
  } catch {
    return new URLSearchParams();
  }
}
