/**
 * The in-memory view of revocations that the hot path reads: a lookup per request, no I/O.
 * A memory store is only this view; a shared store keeps it current from Redis (a full load on
 * every (re)connect plus pub/sub for each new entry) and writes its own entries back after an
 * outage, so a revocation made while Redis was away still reaches every replica.
 *
 * Three kinds of entry, each kept until `until` (epoch seconds: when every session it can match
 * would have expired anyway):
 * - `session` – one Gatehouse session id (sign_out);
 * - `sid` – every session the IdP knows as (iss, sid) (back-channel logout with `sid`);
 * - `subject` – every session of (iss, sub) created at or before `before` (logout with `sub` only).
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCActions
 */

export type RevocationEntry =
  | { kind: 'session'; id: string; until: number }
  | { kind: 'sid'; iss: string; sid: string; until: number }
  | { kind: 'subject'; iss: string; sub: string; before: number; until: number };

/** What the hot path knows about a session. */
export interface SessionRef {
  id: string;
  iss: string;
  sub: string;
  idpSid?: string;
  /** epoch seconds */
  createdAt: number;
}

interface Stored {
  entry: RevocationEntry;
  /** epoch ms */
  expiresAt: number;
}

/** Stable identity of an entry: the Redis sorted-set member, and the map key here. */
export function entryKey(e: RevocationEntry): string {
  switch (e.kind) {
    case 'session':
      return JSON.stringify(['s', e.id]);
    case 'sid':
      return JSON.stringify(['d', e.iss, e.sid]);
    case 'subject':
      return JSON.stringify(['u', e.iss, e.sub, e.before]);
  }
}

/** The entry an {@link entryKey} names, with its `until`; undefined for anything else. */
export function parseEntry(key: string, until: number): RevocationEntry | undefined {
  let parts: unknown;
  try {
    parts = JSON.parse(key);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts) || !Number.isFinite(until)) return undefined;
  const [tag, a, b, c] = parts as unknown[];
  if (tag === 's' && typeof a === 'string' && parts.length === 2) return { kind: 'session', id: a, until };
  if (tag === 'd' && typeof a === 'string' && typeof b === 'string' && parts.length === 3)
    return { kind: 'sid', iss: a, sid: b, until };
  if (
    tag === 'u' &&
    typeof a === 'string' &&
    typeof b === 'string' &&
    typeof c === 'number' &&
    parts.length === 4
  )
    return { kind: 'subject', iss: a, sub: b, before: c, until };
  return undefined;
}

export class RevocationView {
  readonly #max: number;
  /** entryKey → entry; insertion order = age, for eviction */
  readonly #entries = new Map<string, Stored>();
  /** `iss\nsub` → the latest `before` of that subject's live entries */
  readonly #subjects = new Map<string, number>();

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Add (or extend) an entry; returns false when it had already expired. */
  add(entry: RevocationEntry, now = Date.now()): boolean {
    const expiresAt = entry.until * 1000;
    if (expiresAt <= now) return false;
    const key = entryKey(entry);
    const old = this.#entries.get(key);
    if (old && old.expiresAt >= expiresAt) return true;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) this.#evict(now);
    this.#entries.set(key, { entry, expiresAt });
    if (entry.kind === 'subject') {
      const k = `${entry.iss}\n${entry.sub}`;
      this.#subjects.set(k, Math.max(this.#subjects.get(k) ?? Number.NEGATIVE_INFINITY, entry.before));
    }
    return true;
  }

  isRevoked(s: SessionRef, now = Date.now()): boolean {
    if (this.#entries.size === 0) return false; // nothing revoked (the subject index only mirrors entries)
    if (this.#live(JSON.stringify(['s', s.id]), now)) return true;
    if (s.idpSid !== undefined && this.#live(JSON.stringify(['d', s.iss, s.idpSid]), now)) return true;
    const before = this.#subjects.get(`${s.iss}\n${s.sub}`);
    if (before !== undefined && s.createdAt <= before) {
      // Confirm against a live entry (the index may hold an expired maximum).
      for (const { entry, expiresAt } of this.#entries.values()) {
        if (
          entry.kind === 'subject' &&
          expiresAt > now &&
          entry.iss === s.iss &&
          entry.sub === s.sub &&
          s.createdAt <= entry.before
        )
          return true;
      }
    }
    return false;
  }

  /** Live entries (for writing back to a store that lost them). */
  entries(now = Date.now()): RevocationEntry[] {
    const out: RevocationEntry[] = [];
    for (const { entry, expiresAt } of this.#entries.values()) if (expiresAt > now) out.push(entry);
    return out;
  }

  clear(): void {
    this.#entries.clear();
    this.#subjects.clear();
  }

  #live(key: string, now: number): boolean {
    const stored = this.#entries.get(key);
    if (stored === undefined) return false;
    if (stored.expiresAt > now) return true;
    this.#entries.delete(key);
    return false;
  }

  /** Drop expired entries; when none expired, the oldest one goes (the bound is a hard limit). */
  #evict(now: number): void {
    for (const [key, { expiresAt }] of this.#entries) if (expiresAt <= now) this.#entries.delete(key);
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#subjects.clear();
    for (const { entry } of this.#entries.values())
      if (entry.kind === 'subject') {
        const k = `${entry.iss}\n${entry.sub}`;
        this.#subjects.set(k, Math.max(this.#subjects.get(k) ?? Number.NEGATIVE_INFINITY, entry.before));
      }
  }
}
