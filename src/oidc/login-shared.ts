/**
 * What the login endpoints and their handlers share: the request context, the outcome each
 * handler reports for the audit line, the providers as the handlers use them, and the small
 * answers (an error page, a no-store redirect) every handler ends with. The handlers import
 * this file, never `login-endpoints.ts`, which composes them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { OidcProviderConfig } from '../config/providers.ts';
import type { Config } from '../config/schema.ts';
import type { ReasonCode } from '../errors.ts';
import { type PageOptions, sendError } from '../http/send-error.ts';
import type { Log } from '../observe/logger.ts';
import type { Pages } from '../pages/pages.ts';
import type { SessionCodec } from '../session/cookie-codec.ts';
import { type SessionData, sessionProvider } from '../session/session-data.ts';
import type { LoginCookies } from './login-state.ts';
import type { OidcClient } from './oidc-client.ts';

export interface EndpointContext {
  requestId: string;
  publicOrigin: URL;
  /** `server.endpoints_prefix` */
  prefix: string;
  clientIp: string;
  /** the config's pages (error pages, chooser, signed out); default: plain ones */
  pages?: Pages;
}

export interface EndpointOutcome {
  outcome: 'ok' | 'error';
  reason?: ReasonCode;
  sub?: string;
  email?: string;
  /** the provider of the session created or ended */
  idp?: string;
}

export type EndpointHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
) => Promise<EndpointOutcome>;

export interface LoginEndpoints {
  start: EndpointHandler;
  /** `{prefix}/callback` (one provider) or `{prefix}/callback/NAME` (several: `provider` is NAME) */
  callback(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: EndpointContext,
    provider?: string,
  ): Promise<EndpointOutcome>;
  signOut: EndpointHandler;
}

/** One configured login provider with its discovered client. */
export interface LoginProviderDeps {
  config: OidcProviderConfig;
  client: OidcClient;
}

export interface LoginDeps {
  config: Config;
  providers: readonly LoginProviderDeps[];
  codec: SessionCodec;
  dispatcher: Dispatcher;
  log: Log;
  /** the top-level claim names sessions keep (`sessionClaimNames` in session/session-data.ts) */
  claimNames: ReadonlySet<string>;
  /** the pages (chooser, signed out, errors) with the config's `ui:`; default: plain ones */
  pages?: Pages;
  /**
   * The providers the route behind a login target accepts (undefined: all), so the chooser
   * offers only logins that can open the page the user asked for.
   */
  providersFor?(rd: string, origin: URL): readonly string[] | undefined;
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

/** A login provider as the handlers use it. */
export interface LoginProvider {
  readonly name: string;
  /** chooser label */
  readonly label: string;
  readonly oidc: OidcProviderConfig;
  readonly client: OidcClient;
  /** registered at the IdP: public_url + prefix + /callback, plus /NAME with several providers */
  readonly redirectUri: string;
}

/** What the three handlers share, derived once from the config. */
export interface LoginShared extends LoginDeps {
  /** by name, in config order */
  byName: ReadonlyMap<string, LoginProvider>;
  cookies: LoginCookies;
  /** public_url without a trailing slash */
  publicUrl: string;
  now(): number;
}

/** The provider a session belongs to: by name, or (cookies from before names) by issuer. */
export function providerOf(s: LoginShared, session: SessionData): LoginProvider | undefined {
  const name = sessionProvider(
    session,
    s.providers.map((p) => p.config),
  );
  return name === undefined ? undefined : s.byName.get(name);
}

/** Answer with an error page (plus any Set-Cookie already decided) and report it. */
export function fail(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
  code: ReasonCode,
  setCookies: readonly string[] = [],
  headers: Record<string, string> = {},
  page: PageOptions = {},
): EndpointOutcome {
  sendError(req, res, code, {
    requestId: ctx.requestId,
    headers: setCookies.length > 0 ? { ...headers, 'Set-Cookie': [...setCookies] } : headers,
    page: ctx.pages ? { pages: ctx.pages, ...page } : page,
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
