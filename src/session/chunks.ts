/**
 * Splitting a sealed session over several cookies and joining it back. Browsers cap one cookie
 * at about 4 KB (name, value and attributes together), and an IdP that puts 150 group names in
 * its tokens produces more than that, so a large seal is written as `NAME.0`, `NAME.1`, … and a
 * small one as plain `NAME`. The seal's MAC covers the joined value, so reordered or mixed
 * chunks can only fail to unseal; the rules below reject the malformed cases before that cost.
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-6.1
 */
import { parseCookieHeader } from './cookie-header.ts';

/** Value bytes per cookie: leaves room for the name and attributes within 4096. */
export const CHUNK_SIZE = 3800;
/**
 * The default `session.max_chunks`: most chunks written or read; 8 × 3800 bytes already fills
 * half of node's default header limit.
 */
export const MAX_CHUNKS = 8;
/** The schema's bound on `session.max_chunks`. */
export const MAX_CHUNKS_LIMIT = 16;
/** Chunk indexes recognised (to clear stale ones) beyond those ever read. */
const MAX_INDEX_SEEN = 99;

/** `tooLarge`: more chunks or bytes than the cap (`session_too_large`), found before any join. */
export type Assembled = { ok: true; value: string } | { ok: false; tooLarge?: true };

/** Is `name` the session cookie or one of its chunks? */
export function isChunkName(base: string, name: string): boolean {
  if (name === base) return true;
  // `${base}.` and one or two digits; the cheap length and '.' tests rule out most other names.
  if (name.length < base.length + 2 || name.charCodeAt(base.length) !== 0x2e || !name.startsWith(base))
    return false;
  const index = name.slice(base.length + 1);
  return /^\d{1,2}$/.test(index) && Number(index) <= MAX_INDEX_SEEN;
}

/**
 * The joined value of the session chunks among `pairs` (first occurrence of each name, as
 * other servers read them), or `ok: false` for any shape Gatehouse never writes: both the
 * plain and the chunked form, a gap, a leading zero; `tooLarge` for more than `maxChunks`
 * chunks or `maxChunks × CHUNK_SIZE` bytes, counted before anything is joined or decoded (a
 * huge chunk count was mod_auth_openidc's CVE-2024-24814).
 */
export function assembleChunks(
  base: string,
  pairs: ReadonlyArray<readonly [string, string]>,
  maxChunks: number = MAX_CHUNKS,
): Assembled {
  const maxBytes = maxChunks * CHUNK_SIZE;
  let plain: string | undefined;
  let bytes = 0;
  const indexed = new Map<number, string>();
  for (const [name, value] of pairs) {
    if (name === base) {
      plain ??= value;
    } else if (isChunkName(base, name)) {
      const suffix = name.slice(base.length + 1);
      if (suffix.length > 1 && suffix.startsWith('0')) return { ok: false };
      const index = Number(suffix);
      if (indexed.has(index)) continue;
      indexed.set(index, value);
      bytes += value.length;
      if (indexed.size > maxChunks || bytes > maxBytes) return { ok: false, tooLarge: true };
    }
  }
  if (plain !== undefined) {
    if (indexed.size !== 0) return { ok: false };
    return plain.length > maxBytes ? { ok: false, tooLarge: true } : { ok: true, value: plain };
  }
  if (indexed.size === 0) return { ok: false };
  let value = '';
  for (let i = 0; i < indexed.size; i++) {
    const part = indexed.get(i);
    if (part === undefined || part.length === 0) return { ok: false };
    value += part;
  }
  return { ok: true, value };
}

/** `[name, value]` cookies for a sealed value: plain `NAME` when it fits, else `NAME.i`. */
export function splitChunks(base: string, sealed: string): Array<[string, string]> {
  if (sealed.length <= CHUNK_SIZE) return [[base, sealed]];
  const out: Array<[string, string]> = [];
  for (let i = 0, at = 0; at < sealed.length; i++, at += CHUNK_SIZE) {
    out.push([`${base}.${i}`, sealed.slice(at, at + CHUNK_SIZE)]);
  }
  return out;
}

/**
 * The session cookies a request carries (`NAME` and every `NAME.i`), so an answer can expire
 * the ones it does not rewrite – whichever storage wrote them.
 */
export function presentSessionCookies(base: string, cookieHeader: string | undefined): string[] {
  const names = parseCookieHeader(cookieHeader).map(([name]) => name);
  return [...new Set(names.filter((name) => isChunkName(base, name)))];
}

/** The cookie names to expire to end a session: `NAME` and every chunk the request carried. */
export function sessionCookiesToClear(base: string, present: readonly string[]): string[] {
  return [...new Set([base, ...present.filter((n) => isChunkName(base, n))])];
}
