/**
 * Test configs as typed objects instead of YAML pasted into each file: {@link testConfig} fills
 * in what nearly every integration test repeats and serialises the result with `yaml`, ready for
 * `startTestGatehouse`. The types are the config schema's own input types, so a misspelt key
 * or a wrong shape fails `tsc`, not a test run.
 *
 * Defaults: `idp` becomes the `oidc` client, with the dev IdP's groups scope; a config that logs
 * users in (`idp` or `oidc`) gets `server.public_url: http://127.0.0.1:{{PORT}}` (the port is
 * filled in by startTestGatehouse, which adds listen, admin and audit too) and a session with
 * {@link TEST_COOKIE_SECRET}. Everything given explicitly wins. The text can be written to a
 * file for `gatehouse serve` as it is, when it names no `{{PORT}}`.
 */
import { stringify } from 'yaml';
import type { z } from 'zod';
import type { configSchema } from '../../src/config/schema.ts';
import type { DevIdp } from '../../src/demo/dev-idp.ts';

export type ConfigInput = z.input<typeof configSchema>;
export type RouteInput = ConfigInput['routes'][number];
export type BearerInput = NonNullable<ConfigInput['bearer']>[number];
export type SessionInput = NonNullable<ConfigInput['session']>;
export type OidcInput = Exclude<NonNullable<ConfigInput['oidc']>, readonly unknown[]>;
export type PolicyInput = RouteInput['policy'];

/** The cookie secret of test configs that do not name one (the secret scan knows it: a literal here). */
export const TEST_COOKIE_SECRET = 'test-cookie-secret-0123456789abcdefghijklmn';
/** What the dev IdP can release: `groups` is what role mapping and identity headers read. */
export const IDP_SCOPES = ['openid', 'profile', 'email', 'groups'];
/** The policy of most protected test routes. */
export const AUTHENTICATED = { allow: [{ authenticated: true as const }] };

export interface TestConfigOptions extends Omit<ConfigInput, 'server' | 'oidc' | 'session'> {
  server?: ConfigInput['server'];
  /** log in with this dev IdP: `oidc` is made from it, and `oidc` (an object then) overrides keys */
  idp?: Pick<DevIdp, 'issuer' | 'clientId' | 'clientSecret'>;
  oidc?: ConfigInput['oidc'] | Partial<OidcInput>;
  /** merged over `{ secrets: [TEST_COOKIE_SECRET] }` */
  session?: Partial<SessionInput>;
}

/** The YAML text of a test config (see the file comment for the defaults). */
export function testConfig(opts: TestConfigOptions): string {
  const { idp, oidc, session, server, ...rest } = opts;
  if (idp && Array.isArray(oidc))
    throw new TypeError('testConfig: "idp" names one provider; list several in "oidc" instead');
  const provider = idp
    ? {
        issuer: idp.issuer,
        client_id: idp.clientId,
        client_secret: idp.clientSecret,
        scopes: IDP_SCOPES,
        ...oidc,
      }
    : oidc;
  const logsIn = provider !== undefined;
  // Only a config that logs users in needs public_url (the redirect_uri); without one, the
  // assertion issuer and the origin checks keep their own defaults, as in production.
  const serverSection = { ...(logsIn ? { public_url: 'http://127.0.0.1:{{PORT}}' } : {}), ...server };
  // `undefined` keys are left out of the YAML.
  return stringify({
    server: Object.keys(serverSection).length > 0 ? serverSection : undefined,
    oidc: provider,
    session: logsIn || session ? { secrets: [TEST_COOKIE_SECRET], ...session } : undefined,
    ...rest,
  });
}

/** A route with a path prefix (none: every path) and the `authenticated` policy unless told. */
export function route(
  name: string,
  path: string | undefined,
  upstream: string,
  extra: Partial<RouteInput> = {},
): RouteInput {
  return {
    name,
    ...(path === undefined ? {} : { match: { path } }),
    upstream,
    policy: AUTHENTICATED,
    ...extra,
  };
}

/** A bearer issuer for the dev IdP's machine tokens (its `resource` as the audience). */
export function idpBearer(
  idp: Pick<DevIdp, 'issuer' | 'resource'>,
  extra: Partial<BearerInput> = {},
): BearerInput {
  return { issuer: idp.issuer, audiences: [idp.resource], ...extra };
}
