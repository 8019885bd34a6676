/**
 * What a browser session carries: sealed inside its cookie (`session.storage: cookie`, no
 * server-side state) or, with `session.storage: store`, encrypted in a store record
 * (`./session-record.ts`) that the cookie's sealed id names. Everything a later request needs
 * (who, since when, the tokens to refresh) is here, so the data must stay small – identity
 * claims only, never the whole ID token payload twice.
 */
import type { Config } from '../config/schema.ts';
import { compileClaimPath } from '../policy/claims.ts';
import { isWellFormedEmail } from '../policy/identity-from-claims.ts';

export interface SessionData {
  v: 1;
  /**
   * random, ours: never anything the browser or the IdP chose; with `session.storage: store`,
   * once written, the record key (a hash of the random id the cookie holds)
   */
  id: string;
  /** the IdP issuer that authenticated the user */
  iss: string;
  /** the provider (`oidc[].name`) the user logged in with; absent in cookies sealed before providers had names */
  idp?: string;
  /** identity claims only (see {@link pickSessionClaims}) */
  claims: Record<string, unknown>;
  /** epoch seconds */
  createdAt: number;
  /** epoch seconds; bumped by each cookie write, drives the idle timeout */
  lastSeenAt: number;
  accessToken?: string;
  /** epoch seconds */
  accessTokenExpiresAt?: number;
  refreshToken?: string;
  /** kept for `id_token_hint` at RP-initiated logout */
  idToken?: string;
  /** the IdP session id (`sid`), for back-channel logout */
  idpSid?: string;
}

/** Claims every session keeps when the IdP sends them. */
const IDENTITY_CLAIMS = [
  'sub',
  'email',
  'email_verified',
  'name',
  'preferred_username',
  'username',
  'cognito:username',
  'groups',
  'roles',
  'sid',
  'client_id',
  'azp',
];

/**
 * The top-level claim names a config can read: the identity set, every claim a role mapping
 * reads (`realm_access` for `realm_access.roles`; `mapperClaims`, from the IdP directory) and
 * the first segment of every `claims:` policy rule. Anything else the IdP sends is dropped, so
 * a chatty IdP cannot bloat the cookie.
 */
export function sessionClaimNames(
  config: Pick<Config, 'routes'>,
  mapperClaims: Iterable<string>,
): ReadonlySet<string> {
  const names = new Set(IDENTITY_CLAIMS);
  for (const name of mapperClaims) names.add(name);
  for (const route of config.routes) {
    if (route.policy === 'public') continue;
    for (const rule of [...route.policy.allow, ...route.policy.deny]) {
      // The first segment as the policy reads it: `"a.b".c` and `kubernetes.io.x` keep a dotted name.
      for (const path of Object.keys(rule.claims ?? {})) names.add(compileClaimPath(path)[0]!);
      if (rule.scopes !== undefined) for (const name of ['scope', 'scp']) names.add(name);
    }
  }
  return names;
}

/**
 * Own-property copy of the claims named in `keep`. `email` survives only as one well-formed
 * address: a list or a display-name form is not an identity anyone should match on.
 */
export function pickSessionClaims(
  claims: Readonly<Record<string, unknown>>,
  keep: ReadonlySet<string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of keep) {
    if (!Object.hasOwn(claims, name)) continue;
    const value = claims[name];
    if (value === undefined || value === null) continue;
    if (name === 'email' && !(typeof value === 'string' && isWellFormedEmail(value))) continue;
    // defineProperty: a claim named `__proto__` stays a plain key, never a prototype.
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** True when `value` has the shape of a {@link SessionData} (the seal vouches for the content). */
export function isSessionData(value: unknown): value is SessionData {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Partial<SessionData>;
  return (
    s.v === 1 &&
    typeof s.id === 'string' &&
    typeof s.iss === 'string' &&
    (s.idp === undefined || typeof s.idp === 'string') &&
    typeof s.claims === 'object' &&
    s.claims !== null &&
    typeof s.claims.sub === 'string' &&
    Number.isFinite(s.createdAt) &&
    Number.isFinite(s.lastSeenAt)
  );
}

/**
 * The provider name a session belongs to: the one it records, or – for cookies sealed before
 * providers had names – the first provider with its issuer.
 */
export function sessionProvider(
  session: Pick<SessionData, 'idp' | 'iss'>,
  providers: readonly { readonly name: string; readonly issuer: string }[],
): string | undefined {
  if (session.idp !== undefined) return session.idp;
  return providers.find((p) => p.issuer === session.iss)?.name;
}
