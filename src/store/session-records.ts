/**
 * Where `session.storage: store` keeps its sessions: one encrypted blob per session, keyed by
 * the hash of its id (`src/session/session-record.ts` makes both), expiring on its own, plus an
 * index per subject of that subject's records with a summary each – when, where from, which
 * IdP, never a token – for `gatehouse sessions list` and the admin endpoint.
 *
 * The memory form serves one process; `./redis-session-records.ts` is the same on Redis, seen by
 * every replica.
 */

/** One line of a subject's listing: nothing in it is a credential. */
export interface SessionSummary {
  /** the record key (a hash of the session id): what `sessions revoke --id` takes */
  id: string;
  sub: string;
  iss: string;
  idp?: string;
  /** the IdP session (`sid`), so a back-channel logout by `sid` finds its records */
  idpSid?: string;
  /** epoch seconds */
  createdAt: number;
  /** epoch seconds */
  lastSeenAt: number;
  userAgent?: string;
}

export interface SessionRecords {
  /** the blob, or undefined when there is none (expired, revoked, never written) */
  get(id: string): Promise<string | undefined>;
  /** write the blob for `ttlMs` and its summary into the subject's index (kept `indexTtlMs`) */
  put(id: string, blob: string, ttlMs: number, summary: SessionSummary, indexTtlMs: number): Promise<void>;
  /** remove the record and, when `sub` is given, its index entry */
  delete(id: string, sub?: string): Promise<void>;
  /** the subject's live sessions (index entries whose record is gone are pruned) */
  list(sub: string): Promise<SessionSummary[]>;
}

/** Parse one stored summary; undefined for anything malformed. */
export function parseSummary(text: string): SessionSummary | undefined {
  try {
    const v = JSON.parse(text) as Partial<SessionSummary>;
    if (
      typeof v !== 'object' ||
      v === null ||
      typeof v.id !== 'string' ||
      typeof v.sub !== 'string' ||
      typeof v.iss !== 'string' ||
      !Number.isFinite(v.createdAt) ||
      !Number.isFinite(v.lastSeenAt)
    )
      return undefined;
    return v as SessionSummary;
  } catch {
    return undefined;
  }
}

interface MemoryRecord {
  blob: string;
  sub: string;
  /** epoch ms */
  expiresAt: number;
}

/** One process: bounded maps that expire with their entries; the oldest record goes when full. */
export function createMemorySessionRecords(maxRecords = 100_000): SessionRecords {
  const records = new Map<string, MemoryRecord>();
  const bySub = new Map<string, Map<string, SessionSummary>>();
  const unindex = (id: string, sub: string) => {
    const index = bySub.get(sub);
    index?.delete(id);
    if (index?.size === 0) bySub.delete(sub);
  };
  const live = (id: string, now: number): MemoryRecord | undefined => {
    const r = records.get(id);
    if (r === undefined) return undefined;
    if (r.expiresAt > now) return r;
    records.delete(id);
    unindex(id, r.sub);
    return undefined;
  };
  /** Drop expired records; when none had expired, the oldest goes (the bound is a hard limit). */
  const evict = (now: number) => {
    for (const [key, r] of records) {
      if (r.expiresAt > now) continue;
      records.delete(key);
      unindex(key, r.sub);
    }
    const oldest = records.keys().next().value;
    if (records.size >= maxRecords && oldest !== undefined) {
      unindex(oldest, records.get(oldest)!.sub);
      records.delete(oldest);
    }
  };
  return {
    async get(id) {
      return live(id, Date.now())?.blob;
    },
    async put(id, blob, ttlMs, summary) {
      const now = Date.now();
      records.delete(id);
      if (records.size >= maxRecords) evict(now);
      records.set(id, { blob, sub: summary.sub, expiresAt: now + ttlMs });
      let index = bySub.get(summary.sub);
      if (index === undefined) {
        index = new Map();
        bySub.set(summary.sub, index);
      }
      index.set(id, summary);
    },
    async delete(id, sub) {
      const r = records.get(id);
      records.delete(id);
      if (r) unindex(id, r.sub);
      if (sub !== undefined) unindex(id, sub);
    },
    async list(sub) {
      const now = Date.now();
      const out: SessionSummary[] = [];
      for (const [id, summary] of bySub.get(sub) ?? []) if (live(id, now)) out.push(summary);
      return out;
    },
  };
}
