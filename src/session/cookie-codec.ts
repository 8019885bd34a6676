/**
 * The session cookie: iron-sealed {@link SessionData}, chunked when large, sealed with the
 * first secret and opened with any (rotation), with idle and absolute expiry enforced from the
 * sealed timestamps – never from the cookie's Max-Age, which the client controls.
 *
 * Warm path: a successful unseal is cached under a SHA-256 of the cookie value, so a repeat
 * request costs one hash and one map hit; expiry checks still run against `now` on every read.
 * @see https://www.rfc-editor.org/rfc/rfc6265bis#name-the-__host-prefix
 */
import { hash } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import { GatehouseError } from '../errors.ts';
import type { Log } from '../observe/logger.ts';
import { LruCache } from '../util/lru.ts';
import {
  assembleChunks,
  CHUNK_SIZE,
  isChunkName,
  presentSessionCookies,
  sessionCookiesToClear,
  splitChunks,
} from './chunks.ts';
import { parseCookieHeader, serializeCookie } from './cookie-header.ts';
import { createSealer } from './seal.ts';
import { isSessionData, type SessionData } from './session-data.ts';

export interface SessionRead {
  session?: SessionData;
  reason?: 'session_invalid' | 'session_expired' | 'session_idle' | 'session_too_large';
  /** the cookie must be rewritten: sealed with an old secret, or lastSeenAt is due a bump */
  reseal: boolean;
  /** chunk names present in the request, so a write can clear stale ones */
  present: readonly string[];
}

export interface SessionCodec {
  /** effective base name: `__Host-<name>` when public_url is https and no cookie_domain, else `<name>` */
  readonly cookieName: string;
  /** Never throws for bad input: tampered or truncated → `session_invalid`. */
  read(cookieHeader: string | undefined, now?: number): Promise<SessionRead>;
  /**
   * Set-Cookie values: every chunk, plus expiring stale chunks; bumps `lastSeenAt` to `now`.
   * With store storage, the record is written and the cookie only when it must change.
   */
  write(session: SessionData, present?: readonly string[], now?: number, meta?: WriteMeta): Promise<string[]>;
  /** Set-Cookie values that delete the named chunks (the plain name is always included). */
  clear(present: readonly string[]): string[];
  /** The session chunk names in a Cookie header, without unsealing anything. */
  present(cookieHeader: string | undefined): string[];
  readonly stats: { hits: number; misses: number };
}

/** About the request that made a session (kept in store records for listings, never decided on). */
export interface WriteMeta {
  userAgent?: string | undefined;
}

export interface SessionCodecOptions {
  session: NonNullable<Config['session']>;
  /** public_url is https: Secure cookies and the `__Host-` prefix */
  secure: boolean;
  cacheSize: number;
  log: Log;
}

interface CacheEntry {
  session: SessionData;
  /** sealed with the current (first) secret */
  current: boolean;
}

/** A session whose lastSeenAt is older than this share of idle_timeout is rewritten. */
const RESEAL_FRACTION = 4;

export function createSessionCodec(opts: SessionCodecOptions): SessionCodec {
  const { session: cfg, secure, log } = opts;
  const sealer = createSealer(cfg.secrets);
  const cookieName = secure && !cfg.cookie_domain ? `__Host-${cfg.cookie_name}` : cfg.cookie_name;
  const cache = new LruCache<CacheEntry>(opts.cacheSize);
  const stats = { hits: 0, misses: 0 };
  const attrs = { path: '/', secure, domain: cfg.cookie_domain };
  const maxChunks = cfg.max_chunks;
  const maxBytes = CHUNK_SIZE * maxChunks;

  const lifetimeEnd = (s: SessionData) => s.createdAt * 1000 + cfg.max_lifetime;
  const keyOf = (value: string) => hash('sha256', value, 'base64url');

  function check(entry: CacheEntry, present: readonly string[], now: number): SessionRead {
    const { session } = entry;
    if (now >= lifetimeEnd(session)) return { reason: 'session_expired', reseal: false, present };
    const idleFor = now - session.lastSeenAt * 1000;
    if (idleFor >= cfg.idle_timeout) return { reason: 'session_idle', reseal: false, present };
    const reseal = !entry.current || idleFor >= cfg.idle_timeout / RESEAL_FRACTION;
    return { session, reseal, present };
  }

  const codec: SessionCodec = {
    cookieName,
    stats,

    async read(cookieHeader, now = Date.now()) {
      const pairs: Array<[string, string]> = [];
      for (const pair of parseCookieHeader(cookieHeader))
        if (isChunkName(cookieName, pair[0])) pairs.push(pair);
      // Each name once, in order of first appearance (one pair, the usual case, needs no Set).
      const present = pairs.length === 1 ? [pairs[0]![0]] : [...new Set(pairs.map(([name]) => name))];
      if (present.length === 0) return { reseal: false, present };
      const joined = assembleChunks(cookieName, pairs, maxChunks);
      if (!joined.ok) {
        if (joined.tooLarge) {
          // One line per refused request, naming the sizes only (never a cookie value).
          log.warn(
            { chunks: present.length, max_chunks: maxChunks, reason: 'session_too_large' },
            'session cookie refused: more chunks or bytes than session.max_chunks allows; cleared',
          );
          return { reason: 'session_too_large', reseal: false, present };
        }
        return { reason: 'session_invalid', reseal: false, present };
      }
      const key = keyOf(joined.value);
      const hit = cache.get(key, now);
      if (hit !== undefined) {
        stats.hits++;
        return check(hit, present, now);
      }
      stats.misses++;
      const opened = await sealer.unseal(joined.value);
      if (opened === undefined || !isSessionData(opened.data)) {
        return { reason: 'session_invalid', reseal: false, present };
      }
      const entry: CacheEntry = { session: freeze(opened.data), current: opened.current };
      cache.set(key, entry, lifetimeEnd(entry.session));
      return check(entry, present, now);
    },

    async write(session, present = [], now = Date.now()) {
      let data: SessionData = { ...session, lastSeenAt: Math.floor(now / 1000) };
      const remaining = lifetimeEnd(data) - now;
      if (remaining <= 0) return codec.clear(present);
      let sealed = await sealer.seal(data, remaining / 1000);
      if (sealed.length > maxBytes && data.idToken !== undefined) {
        // The ID token is only an id_token_hint for logout; the IdP accepts client_id instead.
        log.warn({ session_id: data.id, bytes: sealed.length }, 'session too large: dropping the id token');
        const { idToken: _dropped, ...rest } = data;
        data = rest;
        sealed = await sealer.seal(data, remaining / 1000);
      }
      if (sealed.length > maxBytes) {
        const hint =
          'raise session.max_chunks, keep sessions server-side (session.storage: store), or have the IdP send fewer groups (its own group filter; identity.groups_filter narrows only what goes upstream)';
        log.error(
          { session_id: data.id, bytes: sealed.length, max_chunks: maxChunks, reason: 'session_too_large' },
          `session too large for ${maxChunks} cookie chunks: ${hint}`,
        );
        throw new GatehouseError(
          'session_too_large',
          `the sealed session is ${sealed.length} bytes, over session.max_chunks × ${CHUNK_SIZE}: ${hint}`,
        );
      }
      cache.set(keyOf(sealed), { session: freeze(data), current: true }, lifetimeEnd(data));
      const chunks = splitChunks(cookieName, sealed);
      const written = new Set(chunks.map(([name]) => name));
      const maxAge = Math.floor(remaining / 1000);
      const out = chunks.map(([name, value]) => serializeCookie(name, value, { ...attrs, maxAge }));
      for (const name of present) {
        if (!written.has(name) && isChunkName(cookieName, name)) out.push(expire(name));
      }
      return out;
    },

    present: (cookieHeader) => presentSessionCookies(cookieName, cookieHeader),

    clear: (present) => sessionCookiesToClear(cookieName, present).map(expire),
  };

  function expire(name: string): string {
    return serializeCookie(name, '', { ...attrs, maxAge: 0 });
  }

  return codec;
}

/** Cached sessions are shared between requests: nobody may change one in place. */
function freeze(session: SessionData): SessionData {
  Object.freeze(session.claims);
  return Object.freeze(session);
}
