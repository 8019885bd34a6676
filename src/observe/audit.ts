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
  flush(): void;
}

/** `output`: `stdout`, `stderr`, or a file path (appended). */
export function createAuditLog(output: string): AuditLog {
  const destination =
    output === 'stdout'
      ? pino.destination({ fd: 1, sync: false })
      : output === 'stderr'
        ? pino.destination({ fd: 2, sync: false })
        : pino.destination({ dest: output, append: true, sync: false, mode: 0o640 });
  const logger = pino(
    {
      // pino writes the level first: that slot carries the stream marker, so every line
      // starts {"log":"audit","time":…} and the rest is the entry.
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: () => ({ log: 'audit' }) },
    },
    destination,
  );
  return {
    write(entry) {
      logger.info(entry);
    },
    flush() {
      if ('flushSync' in destination && typeof destination.flushSync === 'function') {
        try {
          destination.flushSync();
        } catch {
          // not ready yet (sonic-boom before open): nothing buffered to lose
        }
      }
    },
  };
}
