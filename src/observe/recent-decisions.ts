/**
 * The last N decisions, for the admin live view: a fixed-size ring fed by the same call that
 * writes the audit line (`pipeline/observe.ts` `record`). A push stores the audit entry object
 * that was built anyway and its time in a preallocated array – no copy, no allocation – so the
 * hot path pays one array store and two index updates. The entries hold what the audit line
 * holds (never a token or cookie), and nothing leaves the process except through the admin
 * listener.
 */
import type { AuditEntry } from './audit.ts';

/** One decision as the live view serves it: the audit fields plus its time and sequence number. */
export interface RecentDecision extends AuditEntry {
  /** epoch ms */
  readonly time: number;
  /** increases by one per decision since start: a poller can tell new from seen */
  readonly seq: number;
}

export interface RecentDecisions {
  readonly capacity: number;
  /** sequence number of the newest decision (0: none yet) */
  readonly last: number;
  push(entry: AuditEntry, now?: number): void;
  /** The decisions kept, oldest first; with `after`, only those newer than that sequence number. */
  list(after?: number): RecentDecision[];
}

/** @throws TypeError `ERR_INVALID_ARG_VALUE` unless `capacity` is a positive integer */
export function createRecentDecisions(capacity: number): RecentDecisions {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw Object.assign(new TypeError(`"capacity" must be a positive integer, got ${capacity}`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  const entries = new Array<AuditEntry | undefined>(capacity).fill(undefined);
  const times = new Float64Array(capacity);
  /** sequence number of the newest entry; the entry of seq s sits at (s - 1) % capacity */
  let last = 0;
  return {
    capacity,
    get last() {
      return last;
    },
    push(entry, now = Date.now()) {
      const i = last % capacity;
      entries[i] = entry;
      times[i] = now;
      last++;
    },
    list(after = 0) {
      const first = Math.max(after, last - capacity) + 1;
      const out: RecentDecision[] = [];
      for (let seq = first; seq <= last; seq++) {
        const i = (seq - 1) % capacity;
        // A copy: the caller serialises it, and the kept entry must not change under it.
        out.push({ ...(entries[i] as AuditEntry), time: times[i] as number, seq });
      }
      return out;
    },
  };
}
