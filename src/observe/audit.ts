/**
 * The audit log: one JSON line per decision, with the fields README documents. It is the
 * first place to look when someone asks "why was I denied": `reason` is a stable code and
 * `rule` names the policy rule that decided. Tokens and cookies are never written here –
 * only the identity's sub/email and the request's method, host and path (never the query).
 */
import pino from 'pino';
import type { ReasonCode } from '../errors.ts';

export type AuditDecision = 'allow' | 'deny' | 'login' | 'error';

export interface AuditEntry {
  request_id: string;
  route?: string;
  method: string;
  host: string;
  path: string;
  client_ip: string;
  sub?: string;
  email?: string;
  auth_type?: string;
  decision: AuditDecision;
  reason: ReasonCode;
  rule?: string;
  dry_run?: boolean;
  status: number;
  duration_ms: number;
}

export interface AuditLog {
  write(entry: AuditEntry): void;
  /** write out what is buffered, now (tests) */
  flush(): void;
  /** flush and release the output (shutdown) */
  close(): void;
}

/** Lines are batched up to this many bytes, and written at least this often. */
const BATCH_BYTES = 4096;
const FLUSH_EVERY_MS = 500;

/**
 * `output`: `stdout`, `stderr`, or a file path (appended). One write per request would be a
 * syscall on the hot path, so lines are batched by sonic-boom (pino's destination) and
 * flushed every half second and at shutdown.
 */
export function createAuditLog(output: string): AuditLog {
  const common = { sync: false, minLength: BATCH_BYTES, periodicFlush: FLUSH_EVERY_MS };
  const file = output !== 'stdout' && output !== 'stderr';
  const destination = file
    ? pino.destination({ ...common, dest: output, append: true, mode: 0o640 })
    : pino.destination({ ...common, fd: output === 'stdout' ? 1 : 2 });
  const flush = () => {
    try {
      destination.flushSync();
    } catch {
      // not open yet (sonic-boom opens files asynchronously): nothing is lost, it writes on open
    }
  };
  return {
    write(entry) {
      // Entries hold only strings, numbers and booleans from our own code: plain JSON, one line.
      destination.write(
        `{"log":"audit","time":"${new Date().toISOString()}",${JSON.stringify(entry).slice(1)}\n`,
      );
    },
    flush,
    close() {
      flush();
      // A file is ours to close; stdout/stderr stay open for the rest of the process.
      if (file) destination.end();
    },
  };
}
