/**
 * The browser login endpoints – `{prefix}/start`, `{prefix}/callback`, `{prefix}/sign_out` –
 * built once per config, for one or several providers. Each handler writes its own response
 * and returns what happened for the audit line; every failure ends on a `sendError` page with
 * a reason code and never creates a session. The shared types and answers are `login-shared.ts`.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 */
import { handleCallback } from './login-callback.ts';
import type { LoginDeps, LoginEndpoints, LoginProvider, LoginShared } from './login-shared.ts';
import { handleStart } from './login-start.ts';
import { createLoginCookies } from './login-state.ts';
import { handleSignOut } from './sign-out.ts';

/** @throws TypeError `ERR_INVALID_ARG_VALUE` when no provider, `session` or `server.public_url` is missing */
export function createLoginEndpoints(deps: LoginDeps & { now?: () => number }): LoginEndpoints {
  const { config } = deps;
  if (deps.providers.length === 0 || !config.session || !config.server.public_url) {
    throw Object.assign(new TypeError('login needs "oidc", "session" and "server.public_url"'), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const publicUrl = config.server.public_url.replace(/\/+$/, '');
  const secure = publicUrl.startsWith('https:');
  const prefix = config.server.endpoints_prefix;
  const several = deps.providers.length > 1;
  const byName = new Map<string, LoginProvider>(
    deps.providers.map(({ config: oidc, client }) => [
      oidc.name,
      {
        name: oidc.name,
        label: oidc.display_name ?? oidc.name,
        oidc,
        client,
        // One callback per provider when there are several: a response can only complete a
        // login started for the provider whose URL it arrives at (mix-up defence, RFC 9700 §4.4).
        redirectUri: `${publicUrl}${prefix}/callback${several ? `/${oidc.name}` : ''}`,
      },
    ]),
  );
  const shared: LoginShared = {
    ...deps,
    byName,
    cookies: createLoginCookies({
      cookieName: config.session.cookie_name,
      secrets: config.session.secrets,
      secure,
      path: prefix,
      // One login cookie lifetime for all providers: the longest any of them allows.
      loginTimeoutMs: Math.max(...deps.providers.map((p) => p.config.login_timeout)),
    }),
    publicUrl,
    now: deps.now ?? Date.now,
    log: deps.log.child({ component: 'login' }),
  };
  return {
    start: (req, res, ctx) => handleStart(shared, req, res, ctx),
    callback: (req, res, ctx, provider) => handleCallback(shared, req, res, ctx, provider),
    signOut: (req, res, ctx) => handleSignOut(shared, req, res, ctx),
  };
}
