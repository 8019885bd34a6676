/**
 * The development provider's `oidc-provider` configuration: the browser client and the machine
 * client, the demo users as accounts, every requested scope granted without a consent screen,
 * JWT access tokens for one resource, and the features Gatehouse talks to. Only types come from
 * `oidc-provider` here, so this module loads nothing of it.
 * @see https://github.com/panva/node-oidc-provider/blob/main/docs/README.md
 */
import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import type {
  AccessToken,
  ClientCredentials,
  ClientMetadata,
  Configuration,
  FindAccount,
  Grant,
  KoaContextWithOIDC,
  UnknownObject,
} from 'oidc-provider';
import { type DemoUser, userNamed } from './demo-users.ts';

export interface DevIdpOptions {
  /** show the demo users (and that any password works) on the login form */
  loginHint?: boolean;
  /** 0 (default) picks a free port; a fixed port lets a test restart the provider at the same issuer */
  port?: number;
  /** redirect_uris of the browser client `gatehouse` */
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  backchannelLogoutUri?: string;
  clientId?: string;
  clientSecret?: string;
  /**
   * public JWKs of the browser client: it then authenticates with `private_key_jwt` (RFC 7523)
   * instead of its secret
   */
  clientJwks?: JWK[];
  /** resource indicator whose access tokens are JWTs (RFC 9068) */
  resource?: string;
  /** extra or replacement users */
  users?: Record<string, DemoUser>;
  /** private JWKs to sign with; generated (RS256 + ES256) when absent */
  keys?: JWK[];
  /** access token lifetime, seconds */
  accessTokenTtl?: number;
  idTokenTtl?: number;
  /**
   * more claim names the provider releases from the user records (e.g. `realm_access`,
   * `resource_access`, `cognito:groups`): in the ID token and userinfo with the `groups` scope,
   * and in JWT access tokens – the shapes of Keycloak, Cognito and friends
   */
  extraClaims?: string[];
  /** claims added to client-credentials (machine) access tokens */
  machineClaims?: Record<string, unknown>;
}

/** What one provider instance is started with, the options' defaults applied. */
export interface DevIdpSetup {
  users: Record<string, DemoUser>;
  clientId: string;
  clientSecret: string;
  machine: { id: string; secret: string };
  resource: string;
  keys: JWK[];
}

/** The scopes of the resource's access tokens. */
const RESOURCE_SCOPES = 'api:read api:write';

export function providerConfiguration(opts: DevIdpOptions, setup: DevIdpSetup): Configuration {
  const { users, resource } = setup;
  return {
    clients: clientsOf(opts, setup),
    jwks: { keys: setup.keys as never },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups', ...(opts.extraClaims ?? [])],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', ...RESOURCE_SCOPES.split(' ')],
    // Put the claims in the ID token too, as Okta/Keycloak are commonly configured to.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: ttlOf(opts),
    // Refresh tokens for every code-flow client that may use them, and one use each
    // (rotation), as production IdPs commonly do.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    findAccount: accountFinder(users),
    // Skip the consent screen: a demo grants every requested scope.
    loadExistingGrant: (ctx) => grantEverything(ctx, resource),
    features: featuresOf(opts, resource),
    extraTokenClaims: async (_ctx, token) => extraTokenClaims(token, users, opts),
  };
}

/** Lifetimes in seconds: the options' token lifetimes, a day for everything that outlives them. */
function ttlOf(opts: DevIdpOptions): Configuration['ttl'] {
  return {
    AccessToken: opts.accessTokenTtl ?? 3600,
    ClientCredentials: opts.accessTokenTtl ?? 3600,
    IdToken: opts.idTokenTtl ?? 3600,
    RefreshToken: 86_400,
    Session: 86_400,
    Grant: 86_400,
    Interaction: 3600,
  };
}

function clientsOf(opts: DevIdpOptions, setup: DevIdpSetup): ClientMetadata[] {
  const browser: ClientMetadata = {
    client_id: setup.clientId,
    client_secret: setup.clientSecret,
    redirect_uris: opts.redirectUris ?? [],
    post_logout_redirect_uris: opts.postLogoutRedirectUris ?? [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...(opts.clientJwks
      ? { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: opts.clientJwks } }
      : { token_endpoint_auth_method: 'client_secret_basic' }),
    ...(opts.backchannelLogoutUri
      ? { backchannel_logout_uri: opts.backchannelLogoutUri, backchannel_logout_session_required: true }
      : {}),
  };
  const machine: ClientMetadata = {
    client_id: setup.machine.id,
    client_secret: setup.machine.secret,
    redirect_uris: [],
    response_types: [],
    grant_types: ['client_credentials'],
  };
  return [browser, machine];
}

function accountFinder(users: Readonly<Record<string, DemoUser>>): FindAccount {
  return async (_ctx: unknown, id: string) => {
    const user = userNamed(users, id);
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, email_verified: true, ...user }) };
  };
}

async function grantEverything(ctx: KoaContextWithOIDC, resource: string): Promise<Grant | undefined> {
  const clientId = ctx.oidc.client?.clientId;
  const accountId = ctx.oidc.session?.accountId;
  if (!clientId || !accountId) return undefined;
  const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session?.grantIdFor(clientId);
  if (grantId) return ctx.oidc.provider.Grant.find(grantId);
  const grant = new ctx.oidc.provider.Grant({ clientId, accountId });
  grant.addOIDCScope('openid offline_access email profile groups');
  grant.addResourceScope(resource, RESOURCE_SCOPES);
  await grant.save();
  return grant;
}

function featuresOf(opts: DevIdpOptions, resource: string): Configuration['features'] {
  return {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: RESOURCE_SCOPES,
        audience: resource,
        accessTokenTTL: opts.accessTokenTtl ?? 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  };
}

/**
 * A user's email, groups and `extraClaims` in their access tokens; `machineClaims` in a
 * client-credentials token, which has no account.
 */
function extraTokenClaims(
  token: AccessToken | ClientCredentials,
  users: Readonly<Record<string, DemoUser>>,
  opts: DevIdpOptions,
): UnknownObject | undefined {
  const accountId = 'accountId' in token ? token.accountId : undefined;
  const user = accountId ? userNamed(users, accountId) : undefined;
  if (!user) return accountId === undefined && opts.machineClaims ? { ...opts.machineClaims } : undefined;
  const extra: Record<string, unknown> = {};
  for (const name of opts.extraClaims ?? []) if (Object.hasOwn(user, name)) extra[name] = user[name];
  return { email: user.email, groups: user.groups, ...extra };
}
