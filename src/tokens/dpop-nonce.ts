/**
 * Server-provided DPoP nonces without server state: a nonce is its issue time and an HMAC of
 * it, `<seconds, base36>.<mac>`, so any replica that holds the same secret accepts a nonce any
 * other issued, for {@link NONCE_LIFETIME_MS}. A nonce bounds how long a proof made in advance
 * (by whoever holds the key, or a stolen copy of a proof) stays usable, whatever its `iat` says.
 *
 * The key is derived (HKDF) from `session.secrets` when present – every one accepts, the first
 * issues, as for cookies – so replicas agree; without it, from a random per-process secret
 * (one instance only).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** how long an issued nonce is accepted */
export const NONCE_LIFETIME_MS = 300_000;
/** a nonce dated this far ahead (another replica's clock) is still accepted */
const FUTURE_MS = 5_000;
const MAC_LENGTH = 22; // 16 bytes, base64url
const NONCE = /^([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})$/;

export class DpopNonces {
  readonly #keys: readonly Buffer[];

  constructor(secrets: readonly string[] | undefined) {
    const material = secrets && secrets.length > 0 ? secrets : [randomBytes(32).toString('base64url')];
    this.#keys = material.map((s) => Buffer.from(hkdfSync('sha256', s, '', 'gatehouse dpop nonce', 32)));
  }

  /** A fresh nonce at `now` (epoch ms): what `DPoP-Nonce` carries. */
  issue(now = Date.now()): string {
    const ts = Math.floor(now / 1000).toString(36);
    return `${ts}.${mac(this.#keys[0]!, ts)}`;
  }

  /** `nonce` was issued by a replica holding one of the secrets, within the lifetime. */
  valid(nonce: unknown, now = Date.now()): boolean {
    if (typeof nonce !== 'string' || nonce.length > 40) return false;
    const m = NONCE.exec(nonce);
    if (!m) return false;
    const issuedMs = Number.parseInt(m[1]!, 36) * 1000;
    if (issuedMs > now + FUTURE_MS || issuedMs < now - NONCE_LIFETIME_MS) return false;
    const given = Buffer.from(m[2]!);
    return this.#keys.some((key) => timingSafeEqual(Buffer.from(mac(key, m[1]!)), given));
  }
}

function mac(key: Buffer, ts: string): string {
  return createHmac('sha256', key).update(ts).digest('base64url').slice(0, MAC_LENGTH);
}
