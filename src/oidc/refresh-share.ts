/**
 * Refresh results shared between replicas. With rotating refresh tokens (one use each) two
 * replicas must not both spend the token of one session: the winner of a lock publishes its
 * result for the others, and the losers wait for it. Sessions live in cookies, so the result is
 * keyed by the old refresh token's hash and sealed (AES-256-GCM) under a key derived from that
 * token: only a holder of the old token – the same session's cookie – can open it, and the
 * store never sees a usable token.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { isSessionData, type SessionData } from '../session/session-data.ts';

export interface SharedResultKey {
  /** the store key: a hash, never the token */
  id: string;
  key: Buffer;
}

export function sharedResultKey(refreshToken: string): SharedResultKey {
  const id = createHash('sha256').update('gatehouse-refresh-id\0').update(refreshToken).digest('base64url');
  const key = Buffer.from(hkdfSync('sha256', refreshToken, 'gatehouse', 'refresh-result', 32));
  return { id, key };
}

export function sealResult(k: SharedResultKey, session: SessionData): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k.key, iv);
  cipher.setAAD(Buffer.from(k.id));
  const body = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The session sealed under `k`, or undefined for anything else (tampered, foreign, malformed). */
export function openResult(k: SharedResultKey, sealed: string): SessionData | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length < 29) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', k.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(k.id));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    const value: unknown = JSON.parse(text);
    return isSessionData(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
