/**
 * The session codec of `session.storage: store`: the cookie holds only an iron seal of a random
 * session id (one small cookie, never chunked, written at login and on secret rotation only);
 * the session itself is a record in the shared store (`./session-record.ts` encrypts it,
 * `src/store/session-records.ts` keeps it), under a hash of that id. The rest of the pipeline
 * sees the same {@link SessionCodec} as with cookies, so a refresh or a `lastSeenAt` bump
 * rewrites the record and leaves the cookie alone – which is what lets nginx `auth_request`
 * (which cannot pass a Set-Cookie of a refresh on) work for a session of any size.
 *
 * A session read from a record carries the record key as its `id`, so revocations and logs
 * name the hash, never the secret id. Idle and absolute expiry are enforced from the record's
 * timestamps, and the record's TTL in the store is min(absolute remaining, idle timeout).
 *
 * Warm path: the unsealed cookie is cached under a hash of its value, the decoded record for
 * {@link RECORD_CACHE_MS}. Revocation stays immediate on every replica: the pipeline checks the
 * store's revocation view after this read, and every delete (sign-out, `sessions revoke`) also
 * adds a revocation entry.
 */
import { hash } from 'node:crypto';
import { GatehouseError } from '../errors.ts';
import type { Log } from '../observe/logger.ts';
import type { SessionRecords } from '../store/session-records.ts';
import { LruCache } from '../util/lru.ts';
import { presentSessionCookies, sessionCookiesToClear } from './chunks.ts';
import type { SessionCodec, SessionCodecOptions, SessionRead } from './cookie-codec.ts';
import { parseCookieHeader, serializeCookie } from './cookie-header.ts';
import { createSealer } from './seal.ts';
import type { SessionData } from './session-data.ts';
import { createRecordCipher, recordKey, shortUserAgent } from './session-record.ts';

/** How long a decoded record answers requests of this process without a store round trip. */
export const RECORD_CACHE_MS = 2000;
/** A session whose lastSeenAt is older than this share of idle_timeout is rewritten. */
const RESEAL_FRACTION = 4;
/** The longest id cookie accepted: a seal of `{ s: <24 chars> }` is about 300 characters. */
const MAX_COOKIE = 1024;

export interface StoreCodecOptions extends Omit<SessionCodecOptions, 'log'> {
  records: SessionRecords;
  log: Log;
}

/** What a read learnt about the request's cookie, for the write that may follow. */
interface CookieRef {
  /** the secret id in the cookie */
  id: string;
  /** its record key */
  key: string;
  /** sealed with the current secret */
  current: boolean;
}

interface RecordEntry {
  session: SessionData;
  userAgent: string | undefined;
  current: boolean;
}

export function createStoreSessionCodec(opts: StoreCodecOptions): SessionCodec {
  const { session: cfg, secure, records, log } = opts;
  const sealer = createSealer(cfg.secrets);
  const cipher = createRecordCipher(cfg.secrets);
  const cookieName = secure && !cfg.cookie_domain ? `__Host-${cfg.cookie_name}` : cfg.cookie_name;
  const cookies = new LruCache<CookieRef>(opts.cacheSize);
  const decoded = new LruCache<RecordEntry>(opts.cacheSize);
  const stats = { hits: 0, misses: 0 };
  const attrs = { path: '/', secure, domain: cfg.cookie_domain };
  /**
   * `present` arrays handed out by `read`, to the cookie they came with: a write given one of
   * them knows whether the browser already holds this session's cookie. Any other array (a
   * login) means a new session.
   */
  const refs = new WeakMap<readonly string[], CookieRef>();

  const lifetimeEnd = (s: SessionData) => s.createdAt * 1000 + cfg.max_lifetime;
  const expire = (name: string) => serializeCookie(name, '', { ...attrs, maxAge: 0 });

  function check(entry: RecordEntry, ref: CookieRef, present: readonly string[], now: number): SessionRead {
    const { session } = entry;
    if (now >= lifetimeEnd(session)) return { reason: 'session_expired', reseal: false, present };
    const idleFor = now - session.lastSeenAt * 1000;
    if (idleFor >= cfg.idle_timeout) return { reason: 'session_idle', reseal: false, present };
    const reseal = !entry.current || !ref.current || idleFor >= cfg.idle_timeout / RESEAL_FRACTION;
    refs.set(present, ref);
    return { session, reseal, present };
  }

  async function unsealCookie(value: string, now: number): Promise<CookieRef | undefined> {
    const cacheKey = hash('sha256', value, 'base64url');
    const hit = cookies.get(cacheKey, now);
    if (hit !== undefined) return hit;
    const opened = await sealer.unseal(value);
    const data = opened?.data as { s?: unknown } | undefined;
    if (opened === undefined || typeof data !== 'object' || data === null || typeof data.s !== 'string')
      return undefined;
    const ref = { id: data.s, key: recordKey(data.s), current: opened.current };
    cookies.set(cacheKey, ref, now + cfg.max_lifetime);
    return ref;
  }

  async function loadRecord(key: string, now: number): Promise<RecordEntry | undefined> {
    const hit = decoded.get(key, now);
    if (hit !== undefined) {
      stats.hits++;
      return hit;
    }
    stats.misses++;
    const blob = await storeCall(() => records.get(key));
    if (blob === undefined) return undefined;
    const opened = cipher.open(key, blob);
    if (opened === undefined) {
      log.warn({ session_id: key }, 'a session record did not decrypt (tampered, or its secret was removed)');
      return undefined;
    }
    const entry = { session: freeze(opened.session), userAgent: opened.userAgent, current: opened.current };
    decoded.set(key, entry, now + RECORD_CACHE_MS);
    return entry;
  }

  const codec: SessionCodec = {
    cookieName,
    stats,

    async read(cookieHeader, now = Date.now()) {
      const present = codec.present(cookieHeader);
      if (present.length === 0) return { reseal: false, present };
      // Chunks are what cookie storage writes: left over from before a switch, or forged.
      if (present.length !== 1 || present[0] !== cookieName)
        return { reason: 'session_invalid', reseal: false, present };
      const value = parseCookieHeader(cookieHeader).find(([name]) => name === cookieName)![1];
      if (value.length > MAX_COOKIE) return { reason: 'session_invalid', reseal: false, present };
      const ref = await unsealCookie(value, now);
      if (ref === undefined) return { reason: 'session_invalid', reseal: false, present };
      const entry = await loadRecord(ref.key, now);
      // No record: it expired idle in the store, or was signed out or revoked.
      if (entry === undefined) return { reason: 'session_expired', reseal: false, present };
      return check(entry, ref, present, now);
    },

    async write(session, present = [], now = Date.now(), meta) {
      const known = refs.get(present);
      const existing = known !== undefined && known.key === session.id;
      // A new session (a login): its fresh random id goes into the cookie, its hash keys the record.
      const ref: CookieRef = existing
        ? known
        : { id: session.id, key: recordKey(session.id), current: false };
      const data: SessionData = { ...session, id: ref.key, lastSeenAt: Math.floor(now / 1000) };
      const remaining = lifetimeEnd(data) - now;
      if (remaining <= 0) {
        await storeCall(() => records.delete(ref.key, String(data.claims.sub)));
        return codec.clear(present);
      }
      const previous = existing ? decoded.get(ref.key, now) : undefined;
      const userAgent = existing ? previous?.userAgent : shortUserAgent(meta?.userAgent);
      const blob = cipher.seal(ref.key, { session: data, ...(userAgent ? { userAgent } : {}) });
      const summary = {
        id: ref.key,
        sub: String(data.claims.sub),
        iss: data.iss,
        ...(data.idp !== undefined ? { idp: data.idp } : {}),
        ...(data.idpSid !== undefined ? { idpSid: data.idpSid } : {}),
        createdAt: data.createdAt,
        lastSeenAt: data.lastSeenAt,
        ...(userAgent ? { userAgent } : {}),
      };
      const ttl = Math.min(remaining, cfg.idle_timeout);
      await storeCall(() => records.put(ref.key, blob, ttl, summary, cfg.max_lifetime));
      decoded.set(ref.key, { session: freeze(data), userAgent, current: true }, now + RECORD_CACHE_MS);
      const out: string[] = [];
      if (!ref.current) {
        const sealed = await sealer.seal({ s: ref.id }, remaining / 1000);
        out.push(serializeCookie(cookieName, sealed, { ...attrs, maxAge: Math.floor(remaining / 1000) }));
        refs.set(present, { ...ref, current: true });
      }
      for (const name of present) if (name !== cookieName) out.push(expire(name));
      return out;
    },

    present: (cookieHeader) => presentSessionCookies(cookieName, cookieHeader),

    clear: (present) => sessionCookiesToClear(cookieName, present).map(expire),
  };
  return codec;
}

/** A store that cannot answer is `store_unavailable` (503), never a signed-out user. */
async function storeCall<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new GatehouseError('store_unavailable', 'the session store is unavailable', { cause: err });
  }
}

/** Cached sessions are shared between requests: nobody may change one in place. */
function freeze(session: SessionData): SessionData {
  Object.freeze(session.claims);
  return Object.freeze(session);
}
