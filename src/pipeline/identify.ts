/**
 * identify + refresh: turn the request's credential into an Identity.
 * `Authorization: Bearer` wins over a session cookie (a request carrying both is an API call);
 * a route only reads the credential kinds its `auth:` list names. A presented but refused
 * credential leaves `scope.authFailure` set to its reason code; no credential leaves both empty.
 * Warm requests cost a hash and a map hit: the token and session caches hold the verified
 * result, and the Identity built from it is memoised per cached object.
 */
import type { IncomingMessage } from 'node:http';
import { GatehouseError, type ReasonCode } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import { needsRefresh } from '../oidc/refresh.ts';
import { identityFromClaims } from '../policy/identity-from-claims.ts';
import { acceptsProvider, type IdpEntry } from '../policy/idp-directory.ts';
import { type SessionData, sessionProvider } from '../session/session-data.ts';
import { extractBearer } from '../tokens/extract-bearer.ts';
import { extractDpop } from '../tokens/extract-dpop.ts';
import { checkCertificateBinding } from '../tokens/mtls-binding.ts';
import type { VerifiedToken } from '../tokens/verified-token-cache.ts';
import { dpopIdentity, noteDpopRoute, proveDpop } from './dpop.ts';
import type { Identifying } from './runtime.ts';
import type { Scope } from './scope.ts';

const byToken = new WeakMap<VerifiedToken, Identity>();
const bySession = new WeakMap<SessionData, Identity>();

/** What a route accepts: the credential kinds, and (optionally) the providers. */
export interface Accepts {
  readonly auth: readonly string[];
  /** absent: identities from every provider */
  readonly providers?: readonly string[];
}

/** The credentials a request presents, as read off its headers once by the entry point. */
export interface Credentials {
  /** `Authorization`: its one value, or every line when it was repeated (refused) */
  readonly authorization: string | string[] | undefined;
  readonly cookie: string | undefined;
  /** `DPoP` proof header; repeated ones arrive joined by ", " */
  readonly dpop?: string | undefined;
  /**
   * `Origin` and `Access-Control-Request-Method` are both present: with method OPTIONS, the
   * request is a CORS preflight (a route's `cors_preflight: allow` lets it pass)
   */
  readonly preflightHeaders?: boolean;
}

export function credentialsOf(req: IncomingMessage): Credentials {
  return {
    authorization: authorizationOf(req),
    cookie: req.headers.cookie,
    dpop: req.headers.dpop as string | undefined,
    preflightHeaders: hasPreflightHeaders(req.headers),
  };
}

/** @see https://fetch.spec.whatwg.org/#cors-preflight-request */
export function hasPreflightHeaders(headers: IncomingMessage['headers']): boolean {
  return typeof headers.origin === 'string' && typeof headers['access-control-request-method'] === 'string';
}

export async function identify(
  scope: Scope,
  credentials: Credentials,
  rt: Identifying,
  accepts: Accepts,
): Promise<void> {
  const { auth, providers } = accepts;
  let token: string | undefined;
  let dpopScheme = false;
  try {
    token = extractBearer(credentials.authorization); // a repeated header is refused, not silently the first
    if (token === undefined) {
      token = extractDpop(credentials.authorization);
      dpopScheme = token !== undefined;
    }
  } catch (err) {
    scope.authFailure = reasonOf(err);
    return;
  }
  if (token !== undefined) {
    if (!auth.includes('bearer') || !rt.bearer) {
      scope.authFailure = 'auth_type_not_allowed';
      return;
    }
    try {
      const verified = await rt.bearer.verify(token);
      const bearer = tokenIdentity(verified, rt);
      // On every request, after the cache: a token bound to a certificate is only good on a
      // connection that presented it (whatever else, a DPoP proof too, it is bound to).
      if (verified.x5t !== undefined) checkCertificateBinding(verified.x5t, scope.clientCertificate);
      const proven = proveDpop(scope, rt, verified, token, dpopScheme, credentials.dpop);
      const identity = proven && (await proven) ? dpopIdentity(bearer) : bearer;
      // A valid token from a provider this route does not take: another credential would do.
      if (!acceptsProvider(providers, identity.idp)) {
        scope.authFailure = 'provider_not_allowed';
        return;
      }
      scope.identity = identity;
      scope.accessToken = token;
    } catch (err) {
      scope.authFailure = reasonOf(err);
    }
    return;
  }
  if (auth.includes('bearer')) noteDpopRoute(scope, rt);
  if (auth.includes('session') && rt.sessions)
    await identifySession(credentials.cookie, scope, rt, providers);
}

async function identifySession(
  cookie: string | undefined,
  scope: Scope,
  rt: Identifying,
  providers: readonly string[] | undefined,
): Promise<void> {
  const codec = rt.sessions!;
  const read = await codec.read(cookie);
  if (read.reason) {
    scope.authFailure = read.reason;
    scope.setCookies = codec.clear(read.present);
    return;
  }
  let session = read.session;
  if (!session) return;
  const name = sessionProvider(session, rt.idps.providers);
  const idp = name === undefined ? undefined : rt.idps.forProvider(name);
  if (idp === undefined) {
    // Its provider was removed from the config: nobody can refresh or sign it out any more.
    scope.authFailure = 'session_invalid';
    scope.setCookies = codec.clear(read.present);
    return;
  }
  // A session from a provider this route does not take is no session here: the caller is sent
  // to log in with one it does take (the cookie stays for the routes it is good for).
  // Revocations (sign_out, back-channel logout, on any replica) come from the store's local view.
  const revocationOf = (s: SessionData) =>
    rt.store.check({
      id: s.id,
      iss: s.iss,
      sub: String(s.claims.sub),
      createdAt: s.createdAt,
      ...(s.idpSid !== undefined ? { idpSid: s.idpSid } : {}),
    });
  if (!acceptsProvider(providers, idp.name)) {
    // Kept aside for the page that offers to switch providers (never used to decide); a signed
    // out session names nobody.
    if (revocationOf(session) === 'ok') {
      try {
        scope.otherSession = sessionIdentity(session, rt, idp);
      } catch {
        // no sub: nothing to show
      }
    }
    return;
  }
  const revocation = revocationOf(session);
  if (revocation === 'revoked') {
    scope.authFailure = 'session_revoked';
    scope.setCookies = codec.clear(read.present);
    return;
  }
  // The shared store is away: a logout elsewhere could be missed. Fail closed (503, the cookie
  // kept for when it returns) unless the operator chose availability.
  if (revocation === 'unavailable' && !rt.config.store_fail_open)
    throw new GatehouseError('store_unavailable');
  let reseal = read.reseal;
  if (rt.refresher && session.refreshToken && needsRefresh(session, rt.config.session!.refresh_before)) {
    try {
      session = await rt.refresher.refresh(session);
      rt.metrics.sessionRefresh.inc({ result: 'ok' });
      reseal = true;
    } catch (err) {
      rt.metrics.sessionRefresh.inc({ result: 'error' });
      rt.log.info(
        { request_id: scope.requestId, reason: reasonOf(err) },
        'session refresh failed; session ended',
      );
      scope.authFailure = 'refresh_failed';
      scope.setCookies = codec.clear(read.present);
      return;
    }
  }
  try {
    scope.identity = sessionIdentity(session, rt, idp);
  } catch (err) {
    scope.authFailure = reasonOf(err); // a session whose claims cannot make an Identity (no sub)
    scope.setCookies = codec.clear(read.present);
    return;
  }
  if (reseal) scope.setCookies = await codec.write(session, read.present);
  scope.accessToken = session.accessToken;
}

/**
 * The request's Authorization header: its one value, or every line when it was repeated.
 * `req.headersDistinct` answers that too, but builds an object of every header on first use; a
 * scan of the raw names suffices (node keeps the first line in `req.headers`).
 */
function authorizationOf(req: IncomingMessage): string | string[] | undefined {
  const first = req.headers.authorization;
  if (first === undefined) return undefined;
  const raw = req.rawHeaders;
  if (Array.isArray(raw)) {
    let lines = 0;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === 13 && name.toLowerCase() === 'authorization') lines++;
    }
    if (lines === 1) return first;
  }
  return req.headersDistinct.authorization;
}

function tokenIdentity(v: VerifiedToken, rt: Identifying): Identity {
  let id = byToken.get(v);
  if (!id) {
    const idp = rt.idps.forIssuer(v.issuer);
    id = identityFromClaims(
      { ...v.claims },
      {
        authType: 'bearer',
        mapper: idp.mapper,
        expiresAt: v.expiresAt,
        iss: v.issuer,
        ...(idp.name !== undefined ? { idp: idp.name } : {}),
        // a bound token that reaches policy was proven on its request (checked in identify)
        ...(v.x5t !== undefined ? { binding: 'mtls' as const } : {}),
      },
    );
    byToken.set(v, id);
  }
  return id;
}

function sessionIdentity(s: SessionData, rt: Identifying, idp: IdpEntry): Identity {
  let id = bySession.get(s);
  if (!id) {
    const cfg = rt.config.session!;
    id = identityFromClaims(
      { ...s.claims },
      {
        authType: 'session',
        mapper: idp.mapper,
        expiresAt: s.createdAt + Math.floor(cfg.max_lifetime / 1000),
        iss: s.iss,
        ...(idp.name !== undefined ? { idp: idp.name } : {}),
      },
    );
    bySession.set(s, id);
  }
  return id;
}

function reasonOf(err: unknown): ReasonCode {
  return err instanceof GatehouseError ? err.code : 'internal_error';
}
