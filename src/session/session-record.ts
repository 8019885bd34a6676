/**
 * Server-side session records (`session.storage: store`): the {@link SessionData} a cookie
 * would have carried, encrypted at rest with AES-256-GCM under a key derived (HKDF-SHA256) from
 * a session secret. The first secret encrypts; every listed secret decrypts, so rotating
 * secrets works as it does for cookies (`./seal.ts`): each blob names its secret by the same
 * position-independent id, and a blob of an older secret is rewritten on its next write.
 *
 * A record's store key is a hash of the random session id held (sealed) in the cookie, never
 * the id itself, and the key is the GCM additional data: a record copied under another key
 * does not open. A store dump therefore holds neither a usable cookie nor a readable token.
 * @see https://www.rfc-editor.org/rfc/rfc5869
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { secretId } from './seal.ts';
import { isSessionData, type SessionData } from './session-data.ts';

/** What a record holds: the session, and the browser it was made for (for listings only). */
export interface SessionRecord {
  session: SessionData;
  /** the login's User-Agent, shortened; never used for a decision */
  userAgent?: string;
}

export interface OpenedRecord extends SessionRecord {
  /** false when an older secret encrypted it: the caller should write it again */
  current: boolean;
}

export interface RecordCipher {
  seal(key: string, record: SessionRecord): string;
  /** The record, or undefined for anything tampered, foreign, malformed or of an unknown secret. */
  open(key: string, blob: string): OpenedRecord | undefined;
}

const VERSION = 'r1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Largest blob accepted from the store (a 150-group session is a few tens of KB). */
const MAX_BLOB = 1 << 20;
/** User-Agent characters kept in a record. */
const MAX_USER_AGENT = 200;

/** The store key of a session id: a domain-separated SHA-256, base64url. */
export function recordKey(sessionId: string): string {
  return createHash('sha256').update('gatehouse-session-record\0').update(sessionId).digest('base64url');
}

/** A User-Agent fit for a listing: printable ASCII only, bounded. */
export function shortUserAgent(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const clean = value.replace(/[^\x20-\x7e]/g, '').slice(0, MAX_USER_AGENT);
  return clean === '' ? undefined : clean;
}

/** @throws TypeError `ERR_INVALID_ARG_VALUE` when no secret is given or one is shorter than 32 characters */
export function createRecordCipher(secrets: readonly string[]): RecordCipher {
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length < 32)) {
    throw Object.assign(new TypeError('"secrets" must list at least one secret of 32 or more characters'), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const derive = (secret: string) =>
    Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'session-record', 32));
  const currentId = secretId(secrets[0]!);
  const currentKey = derive(secrets[0]!);
  const keys = new Map<string, Buffer>();
  for (const secret of secrets) if (!keys.has(secretId(secret))) keys.set(secretId(secret), derive(secret));

  return {
    seal(key, record) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      cipher.setAAD(Buffer.from(`${VERSION}.${currentId}.${key}`));
      const body = Buffer.concat([cipher.update(JSON.stringify(record), 'utf8'), cipher.final()]);
      const raw = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
      return `${VERSION}.${currentId}.${raw}`;
    },
    open(key, blob) {
      if (typeof blob !== 'string' || blob.length > MAX_BLOB) return undefined;
      const [version, id, raw, extra] = blob.split('.');
      if (version !== VERSION || id === undefined || raw === undefined || extra !== undefined)
        return undefined;
      const secretKey = keys.get(id);
      if (secretKey === undefined) return undefined;
      try {
        const bytes = Buffer.from(raw, 'base64url');
        if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
        const decipher = createDecipheriv('aes-256-gcm', secretKey, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(`${VERSION}.${id}.${key}`));
        decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        const text = Buffer.concat([
          decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
        const value = JSON.parse(text) as { session?: unknown; userAgent?: unknown };
        if (typeof value !== 'object' || value === null || !isSessionData(value.session)) return undefined;
        // The record belongs to its key: the session inside names the same hash.
        if (value.session.id !== key) return undefined;
        const userAgent = typeof value.userAgent === 'string' ? value.userAgent : undefined;
        return { session: value.session, ...(userAgent ? { userAgent } : {}), current: id === currentId };
      } catch {
        return undefined;
      }
    },
  };
}
