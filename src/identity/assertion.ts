/**
 * The signed identity assertion (`X-Gatehouse-Assertion`): a JWT the upstream verifies against
 * `{prefix}/jwks.json`, so it need not trust the network between it and Gatehouse.
 *
 * Header `typ` is `gatehouse-assertion+jwt` (explicit typing, RFC 8725 §3.11): an upstream that
 * checks it can never be fooled by an ID token or access token signed by some other party it
 * also trusts, and a Gatehouse assertion can never be replayed as one of those.
 *
 * Signing costs tens of microseconds, too much for every request, so an assertion is reused for
 * the same (identity, audience) until shortly before it expires. The cache key is a digest of
 * every input that shapes the token, so two identities can never share one. With `bindRequest`
 * the token carries the request's method and URL (`htm`/`htu`, as DPoP defines them) and a
 * `jti`, and is signed per request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.11
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2 htm, htu
 */
import { createHash, randomUUID } from 'node:crypto';
import { type JWK, type JWTPayload, SignJWT } from 'jose';
import { GatehouseError } from '../errors.ts';
import { LruCache } from '../util/lru.ts';
import type { Identity } from './identity.ts';
import type { SigningKeys } from './signing-keys.ts';

export const ASSERTION_TYP = 'gatehouse-assertion+jwt';
export const MAX_ASSERTION_TTL_MS = 300_000;
/** Reuse stops when this much (or a quarter of the token's lifetime, if more) remains. */
const MIN_REFRESH_MARGIN_MS = 15_000;

export interface AssertionSigner {
  sign(identity: Identity, audience: string, request?: { method: string; url: string }): Promise<string>;
  jwks(): { keys: JWK[] };
  /** lower-case header name */
  readonly header: string;
  /** hits: served from cache; misses: signed; coalesced: joined a signing already in flight */
  readonly stats: { hits: number; misses: number; coalesced: number };
}

export interface AssertionSignerOptions {
  keys: SigningKeys;
  /** `server.public_url` */
  issuer: string;
  ttlMs: number;
  bindRequest: boolean;
  cacheSize: number;
  header?: string;
  /** epoch ms */
  now?: () => number;
}

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

/**
 * How long a token whose lifetime is `lifetimeMs` is handed out: until max(25 %, 15 s) of it
 * remains, but never more than half of it, so a short-lived token is still reused a little and the
 * upstream always receives one with a useful remaining life (and room for clock skew).
 */
export function refreshMargin(lifetimeMs: number): number {
  return Math.min(Math.max(lifetimeMs / 4, MIN_REFRESH_MARGIN_MS), lifetimeMs / 2);
}

/** `htu`: the request URL without query and fragment (RFC 9449 §4.2). */
function htuOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid('"request.url" must be an absolute URL');
  }
  u.search = '';
  u.hash = '';
  return u.href;
}

export function createAssertionSigner(opts: AssertionSignerOptions): AssertionSigner {
  const { keys, issuer, ttlMs, bindRequest, cacheSize } = opts;
  const now = opts.now ?? Date.now;
  if (typeof issuer !== 'string' || issuer === '') throw invalid('"issuer" must be a non-empty string');
  if (!Number.isFinite(ttlMs) || ttlMs < 1000 || ttlMs > MAX_ASSERTION_TTL_MS) {
    throw invalid(`"ttlMs" must be between 1000 and ${MAX_ASSERTION_TTL_MS}, got ${ttlMs}`);
  }
  const header = (opts.header ?? 'X-Gatehouse-Assertion').toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(header)) throw invalid(`"header" is not a valid header name`);
  const ttlSec = Math.floor(ttlMs / 1000);
  const { kid, alg, key } = keys.current;
  const protectedHeader = Object.freeze({ alg, kid, typ: ASSERTION_TYP });
  const cache = new LruCache<string>(cacheSize);
  const inflight = new Map<string, Promise<string>>();
  const stats = { hits: 0, misses: 0, coalesced: 0 };
  // Identities are frozen once built, so the digest of one can be computed once per object.
  const digests = new WeakMap<Identity, string>();
  // …and so can its cache key for the audience it was last signed for: the same string object on
  // every warm request, whose hash the cache lookup then need not compute again.
  const cacheKeys = new WeakMap<Identity, { readonly audience: string; readonly key: string }>();

  function cacheKeyOf(identity: Identity, audience: string): string {
    const memo = cacheKeys.get(identity);
    if (memo !== undefined && memo.audience === audience) return memo.key;
    // The digest is fixed-length base64url (no space), so `digest + ' ' + audience` is unambiguous.
    const key = `${identityDigest(identity)} ${audience}`;
    if (digests.has(identity)) cacheKeys.set(identity, { audience, key }); // frozen identities only
    return key;
  }

  /** Digest of every identity field that goes into the token, plus the signer's own inputs. */
  function identityDigest(identity: Identity): string {
    let digest = digests.get(identity);
    if (digest !== undefined) return digest;
    const canonical = JSON.stringify([
      issuer,
      kid,
      identity.iss,
      identity.idp ?? null,
      identity.sub,
      identity.authType,
      identity.email ?? null,
      identity.preferredUsername ?? null,
      identity.groups,
      identity.roles,
      identity.expiresAt,
    ]);
    digest = createHash('sha256').update(canonical).digest('base64url');
    if (Object.isFrozen(identity) && Object.isFrozen(identity.groups) && Object.isFrozen(identity.roles)) {
      digests.set(identity, digest);
    }
    return digest;
  }

  async function signNew(
    identity: Identity,
    audience: string,
    nowMs: number,
    request?: { method: string; url: string },
  ): Promise<{ token: string; reuseUntil: number }> {
    const iat = Math.floor(nowMs / 1000);
    // Never outlive the credential the assertion speaks for.
    const exp = Math.min(iat + ttlSec, Math.floor(identity.expiresAt));
    if (!(exp > iat)) {
      throw new GatehouseError(
        identity.authType === 'bearer' ? 'token_expired' : 'session_expired',
        'refusing to sign an assertion for an expired identity',
      );
    }
    const claims: JWTPayload = { iss: issuer, aud: audience, sub: identity.sub };
    if (identity.email !== undefined) claims.email = identity.email;
    if (identity.preferredUsername !== undefined) claims.preferred_username = identity.preferredUsername;
    claims.groups = [...identity.groups];
    claims.roles = [...identity.roles];
    claims.auth_type = identity.authType;
    if (identity.idp !== undefined) claims.idp = identity.idp;
    if (request !== undefined) {
      claims.htm = request.method.toUpperCase();
      claims.htu = htuOf(request.url);
      claims.jti = randomUUID();
    }
    claims.iat = iat;
    claims.exp = exp;
    const token = await new SignJWT(claims).setProtectedHeader(protectedHeader).sign(key);
    const lifetimeMs = exp * 1000 - nowMs;
    return { token, reuseUntil: nowMs + lifetimeMs - refreshMargin(lifetimeMs) };
  }

  async function sign(
    identity: Identity,
    audience: string,
    request?: { method: string; url: string },
  ): Promise<string> {
    if (typeof audience !== 'string' || audience === '')
      throw invalid('"audience" must be a non-empty string');
    const nowMs = now();
    if (bindRequest) {
      if (request === undefined) throw invalid('"request" is required when the assertion binds the request');
      stats.misses++;
      return (await signNew(identity, audience, nowMs, request)).token;
    }
    const cacheKey = cacheKeyOf(identity, audience);
    const cached = cache.get(cacheKey, nowMs);
    if (cached !== undefined) {
      stats.hits++;
      return cached;
    }
    const pending = inflight.get(cacheKey);
    if (pending !== undefined) {
      stats.coalesced++;
      return pending;
    }
    stats.misses++;
    const signing = signNew(identity, audience, nowMs)
      .then(({ token, reuseUntil }) => {
        cache.set(cacheKey, token, reuseUntil);
        return token;
      })
      .finally(() => inflight.delete(cacheKey));
    inflight.set(cacheKey, signing);
    return signing;
  }

  return { sign, jwks: () => keys.jwks(), header, stats };
}
