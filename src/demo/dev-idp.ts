/**
 * A development OpenID Provider (the `oidc-provider` package) on loopback, for `gatehouse demo`
 * and for the test suite. It is a real, spec-compliant provider – discovery, JWKS, code flow with
 * PKCE, refresh tokens, JWT access tokens for a resource (RFC 8707 + RFC 9068), client
 * credentials, introspection, RP-initiated and back-channel logout – with demo users
 * (`./demo-users.ts`) and a login form that accepts any password. Never a production IdP.
 * Its configuration is `./dev-idp-config.ts`, its HTTP server `./dev-idp-server.ts`.
 */
import { randomBytes } from 'node:crypto';
import type { RequestListener } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { DEMO_USERS } from './demo-users.ts';
import { type DevIdpOptions, type DevIdpSetup, providerConfiguration } from './dev-idp-config.ts';
import { LoopbackServer } from './dev-idp-server.ts';

export { DEMO_USERS, type DemoUser } from './demo-users.ts';
export type { DevIdpOptions } from './dev-idp-config.ts';

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
  const setup = await setupOf(opts);
  const server = new LoopbackServer();
  const port = await server.listen(opts.port ?? 0);
  const issuer = `http://127.0.0.1:${port}`;
  const provider = quietly(() => new Provider(issuer, providerConfiguration(opts, setup)));
  if (opts.loginHint) server.hint(loginHint(setup.users));
  // A quiet provider: its own error logging would print expected test failures.
  provider.on('server_error', () => {});
  server.serve(provider.callback() as RequestListener);
  return {
    issuer,
    port,
    clientId: setup.clientId,
    clientSecret: setup.clientSecret,
    machineClient: setup.machine,
    resource: setup.resource,
    keys: setup.keys,
    hits: server.hits,
    close: () => server.close(),
  };
}

/**
 * oidc-provider warns on stderr that its in-memory adapter and dev interactions are for
 * development: true, and exactly what this provider is; the warning would only alarm a newcomer.
 */
function quietly<T>(make: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING')) return;
    warn(...args);
  };
  try {
    return make();
  } finally {
    console.warn = warn;
  }
}

/** The login form's hint: who the demo users are; any password works. */
function loginHint(users: Readonly<Record<string, { groups?: string[] }>>): string {
  const names = Object.entries(users).map(
    ([id, u]) => `<b>${id}</b>${u.groups?.length ? ` (groups ${u.groups.join(', ')})` : ''}`,
  );
  return `<p class="login-help" id="demo-users">Demo users: ${names.join(' or ')}. Any password works, e.g. <code>demo</code>.</p>`;
}

/** The options with their defaults: users, client credentials, resource and signing keys. */
async function setupOf(opts: DevIdpOptions): Promise<DevIdpSetup> {
  return {
    users: { ...DEMO_USERS, ...opts.users },
    clientId: opts.clientId ?? 'gatehouse',
    clientSecret: opts.clientSecret ?? 'gatehouse-demo-secret-0123456789abcdef',
    machine: { id: 'machine', secret: 'machine-demo-secret-0123456789abcdef' },
    resource: opts.resource ?? 'api://demo',
    keys: opts.keys ?? (await generateIdpKeys()),
  };
}
