/**
 * The audit log: one JSON line per decision, with the fields README documents. It is the
 * first place to look when someone asks "why was I denied": `reason` is a stable code and
 * `rule` names the policy rule that decided. Tokens and cookies are never written here –
 * only the identity's sub/email and the request's method, host and path (never the query).
 */
import { writeSync } from 'node:fs';
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
  /** the identity provider's name (multi-IdP), when the caller has an identity */
  idp?: string;
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
  /**
   * Hand what is gathered to the output and resolve once every line handed over so far is
   * written, in order (tests read the file after it; shutdown waits for it).
   */
  flush(): Promise<void>;
  /**
   * Write what is gathered synchronously when no write is in flight (tests reading the file
   * right after a request); with one in flight it only hands the lines on, so order is kept.
   */
  flushSync(): void;
  /** flush and release the output (shutdown); resolves once the lines are written */
  close(): Promise<void>;
}

/**
 * Lines are gathered here up to this many characters, then handed to the destination as one
 * write; whatever is gathered is written at least this often. (sonic-boom's own `minLength`
 * batching measures its whole buffer with `Buffer.byteLength` on every write, which flattens the
 * growing string each time, and issued an `fs.write` per 4 KiB: together ~7 % of the proxy's CPU.)
 */
const BATCH_CHARS = 32 * 1024;
const FLUSH_EVERY_MS = 500;

/**
 * The ISO-8601 timestamp of `now` (epoch ms). `Date#toISOString` costs a Date and a format per
 * call; the text up to the second changes once a second, so only the milliseconds are appended.
 */
function createIsoClock(): (now: number) => string {
  let second = Number.NaN;
  let prefix = '';
  return (now) => {
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      prefix = new Date(s * 1000).toISOString().slice(0, 20); // 'YYYY-MM-DDTHH:MM:SS.'
    }
    const ms = now - s * 1000;
    return `${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  };
}

/**
 * `output`: `stdout`, `stderr`, or a file path (appended). One write per request would be a
 * syscall on the hot path, so lines are batched (see BATCH_CHARS) and written through sonic-boom
 * (pino's destination), at least every half second and at shutdown.
 */
export function createAuditLog(output: string): AuditLog {
  const common = { sync: false };
  const file = output !== 'stdout' && output !== 'stderr';
  const destination = file
    ? pino.destination({ ...common, dest: output, append: true, mode: 0o640 })
    : pino.destination({ ...common, fd: output === 'stdout' ? 1 : 2 });
  const isoTime = createIsoClock();
  let pending = '';
  // Writes are asynchronous and sonic-boom emits 'drain' once everything handed to it is
  // written. Its `flushSync` is no barrier: with a write in flight it writes the later buffers
  // first, so the file showed a later line without an earlier one (the websocket audit race).
  let inFlight = false;
  let waiters: (() => void)[] = [];
  const settle = () => {
    inFlight = false;
    const done = waiters;
    waiters = [];
    for (const w of done) w();
  };
  destination.on('drain', settle);
  // An output that fails (a full disk, a closed pipe) must not leave a shutdown waiting forever.
  destination.on('error', settle);
  const drain = () => {
    if (pending === '') return;
    const batch = pending;
    pending = '';
    inFlight = true;
    destination.write(batch);
  };
  const timer = setInterval(drain, FLUSH_EVERY_MS);
  timer.unref();
  const flush = () => {
    drain();
    if (!inFlight) return Promise.resolve();
    return new Promise<void>((resolve) => waiters.push(resolve));
  };
  const flushSync = () => {
    // Only a file: a pipe (stdout) may take part of a write, which sonic-boom knows how to retry.
    if (!file || inFlight || pending === '' || fdOf(destination) < 0) return drain();
    const batch = pending;
    pending = '';
    try {
      const bytes = Buffer.from(batch);
      for (let off = 0; off < bytes.length; ) off += writeSync(fdOf(destination), bytes, off);
    } catch {
      pending = batch + pending; // a full disk or a closed pipe: the async path retries and reports
      drain();
    }
  };
  return {
    write(entry) {
      // Entries hold only strings, numbers and booleans from our own code: plain JSON, one line.
      pending += `{"log":"audit","time":"${isoTime(Date.now())}",${JSON.stringify(entry).slice(1)}\n`;
      if (pending.length >= BATCH_CHARS) drain();
    },
    flush,
    flushSync,
    async close() {
      clearInterval(timer);
      await flush();
      // A file is ours to close; stdout/stderr stay open for the rest of the process.
      if (file) destination.end();
    },
  };
}

/** sonic-boom's file descriptor (-1 until the file is open); its typings leave `fd` out. */
function fdOf(destination: object): number {
  const fd = (destination as { fd?: unknown }).fd;
  return typeof fd === 'number' ? fd : -1;
}
