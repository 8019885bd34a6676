/**
 * A development OpenID Provider (the `oidc-provider` package) on loopback, for `gatehouse demo`
 * and for the test suite. It is a real, spec-compliant provider – discovery, JWKS, code flow with
 * PKCE, refresh tokens, JWT access tokens for a resource (RFC 8707 + RFC 9068), client
 * credentials, introspection, RP-initiated and back-channel logout – with demo users and a
 * login form that accepts any password. Never a production IdP.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';

export interface DemoUser {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  groups?: string[];
  [claim: string]: unknown;
}

export const DEMO_USERS: Readonly<Record<string, DemoUser>> = {
  alice: {
    email: 'alice@example.com',
    name: 'Alice Admin',
    preferred_username: 'alice',
    groups: ['admins', 'eng'],
  },
  bob: { email: 'bob@example.com', name: 'Bob Builder', preferred_username: 'bob', groups: ['eng'] },
};

export interface DevIdpOptions {
  /** 0 (default) picks a free port; a fixed port lets a test restart the provider at the same issuer */
  port?: number;
  /** redirect_uris of the browser client `gatehouse` */
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  backchannelLogoutUri?: string;
  clientId?: string;
  clientSecret?: string;
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

export interface DevIdp {
  readonly issuer: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  /** the client_credentials client, for machine tokens */
  readonly machineClient: { id: string; secret: string };
  readonly resource: string;
  readonly keys: JWK[];
  /** counts of requests by path, e.g. `/jwks` – tests read how often Gatehouse called */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

/** A fresh RS256 and ES256 private key set with kids, for the provider's JWKS. */
export async function generateIdpKeys(): Promise<JWK[]> {
  const out: JWK[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(privateKey);
    out.push({ ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` });
  }
  return out;
}

export async function startDevIdp(opts: DevIdpOptions = {}): Promise<DevIdp> {
  // oidc-provider is a development dependency: imported here only, so production never loads it.
  const { default: Provider } = await import('oidc-provider');
  const users: Record<string, DemoUser> = { ...DEMO_USERS, ...opts.users };
  const clientId = opts.clientId ?? 'gatehouse';
  const clientSecret = opts.clientSecret ?? 'gatehouse-demo-secret-0123456789abcdef';
  const machine = { id: 'machine', secret: 'machine-demo-secret-0123456789abcdef' };
  const resource = opts.resource ?? 'api://demo';
  const keys = opts.keys ?? (await generateIdpKeys());
  const hits = new Map<string, number>();

  let handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void = (
    _req,
    res,
  ) => res.writeHead(503).end();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const scopes = 'api:read api:write';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris ?? [],
        post_logout_redirect_uris: opts.postLogoutRedirectUris ?? [],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        ...(opts.backchannelLogoutUri
          ? { backchannel_logout_uri: opts.backchannelLogoutUri, backchannel_logout_session_required: true }
          : {}),
      },
      {
        client_id: machine.id,
        client_secret: machine.secret,
        redirect_uris: [],
        response_types: [],
        grant_types: ['client_credentials'],
      },
    ],
    jwks: { keys: keys as never },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups', ...(opts.extraClaims ?? [])],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', ...scopes.split(' ')],
    // Put the claims in the ID token too, as Okta/Keycloak are commonly configured to.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: {
      AccessToken: opts.accessTokenTtl ?? 3600,
      ClientCredentials: opts.accessTokenTtl ?? 3600,
      IdToken: opts.idTokenTtl ?? 3600,
      RefreshToken: 86_400,
      Session: 86_400,
      Grant: 86_400,
      Interaction: 3600,
    },
    // Refresh tokens for every code-flow client that may use them, and one use each
    // (rotation), as production IdPs commonly do.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    findAccount: async (_ctx: unknown, id: string) => {
      const user = Object.hasOwn(users, id) ? users[id] : undefined;
      if (!user) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, email_verified: true, ...user }) };
    },
    // Skip the consent screen: a demo grants every requested scope.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const clientId = ctx.oidc.client?.clientId;
      const accountId = ctx.oidc.session?.accountId;
      if (!clientId || !accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session?.grantIdFor(clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId, accountId });
      grant.addOIDCScope('openid offline_access email profile groups');
      grant.addResourceScope(resource, scopes);
      await grant.save();
      return grant;
    },
    features: {
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
          scope: scopes,
          audience: resource,
          accessTokenTTL: opts.accessTokenTtl ?? 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: async (_ctx, token) => {
      const accountId = 'accountId' in token ? token.accountId : undefined;
      const user = accountId && Object.hasOwn(users, accountId) ? users[accountId] : undefined;
      if (!user) return accountId === undefined && opts.machineClaims ? { ...opts.machineClaims } : undefined;
      const extra: Record<string, unknown> = {};
      for (const name of opts.extraClaims ?? []) if (Object.hasOwn(user, name)) extra[name] = user[name];
      return { email: user.email, groups: user.groups, ...extra };
    },
  });
  // A quiet provider: its own error logging would print expected test failures.
  provider.on('server_error', () => {});
  handler = provider.callback() as typeof handler;

  return {
    issuer,
    port,
    clientId,
    clientSecret,
    machineClient: machine,
    resource,
    keys,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
