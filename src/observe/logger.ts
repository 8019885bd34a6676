/**
 * The structured JSON logger (pino). Every module takes a `Log` – the pino method shape
 * `(obj, msg)` – so tests can pass a recording one and nothing depends on pino directly.
 * Secrets never reach it: callers log reason codes and ids, never tokens or cookies, and the
 * redact list below is the safety net for the config dump and any header object.
 */
import pino, { type DestinationStream } from 'pino';

export interface Log {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): Log;
}

const REDACT = [
  'authorization',
  'cookie',
  'set-cookie',
  '*.authorization',
  '*.cookie',
  '*["set-cookie"]',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'code',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.client_secret',
];

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Log {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { svc: 'gatehouse' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: false }),
  ) as unknown as Log;
}

/** A logger that drops everything (library defaults, benches). */
export const silentLog: Log = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child: () => silentLog,
};
