/**
 * Start a real Gatehouse (in this process) from YAML text (`./config.ts` builds it), on free
 * loopback ports, with its audit lines written to a temp file the test can read. Logs go to a
 * temp file too, so the secret-scanning test can read every line the suite produced: every
 * instance writes under {@link TEST_LOG_DIR} (`$GATEHOUSE_TEST_LOG_DIR`, which
 * `test/run-tests.ts` sets to a fresh directory per run, else a fixed directory under the OS
 * temp dir).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { createLogger } from '../../src/observe/logger.ts';
import { type Gatehouse, startGatehouse } from '../../src/server/gatehouse.ts';
import { freePort } from './ports.ts';
import { type WaitOptions, waitFor, waitForValue } from './wait.ts';

export { freePort } from './ports.ts';
export { waitFor } from './wait.ts';

export type LogLine = Record<string, unknown>;

/** Where every test Gatehouse writes its config, log and audit files (read by test/secrets-scan). */
export const TEST_LOG_DIR = process.env.GATEHOUSE_TEST_LOG_DIR || join(tmpdir(), 'gatehouse-test-logs');

export interface TestGatehouse {
  readonly gh: Gatehouse;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly adminUrl: string;
  readonly configFile: string;
  readonly dir: string;
  /** the audit lines written so far (a snapshot: see {@link TestGatehouse.auditLine}) */
  audit(): LogLine[];
  logs(): LogLine[];
  /**
   * The first audit line matching `predicate`, waited for (bounded). Audit lines are written
   * after the response (and batched), so a test that just got its answer must wait for the line.
   */
  auditLine(predicate: (line: LogLine) => boolean, opts?: WaitOptions): Promise<LogLine>;
  /** resolves once the admin listener's /readyz answers 200 (default: within 10 s) */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * `yaml` may use `{{PORT}}` (the public port, reserved before start so public_url can name it)
 * and `{{AUDIT}}` (the audit file). `server.listen`/`admin.listen` are appended when absent.
 */
export async function startTestGatehouse(yaml: string, opts: { port?: number } = {}): Promise<TestGatehouse> {
  mkdirSync(TEST_LOG_DIR, { recursive: true });
  const dir = mkdtempSync(join(TEST_LOG_DIR, 'gatehouse-test-'));
  const port = opts.port ?? (await freePort());
  const auditFile = join(dir, 'audit.log');
  const logFile = join(dir, 'gatehouse.log');
  let text = yaml.replaceAll('{{PORT}}', String(port)).replaceAll('{{AUDIT}}', auditFile);
  if (!/^audit:/m.test(text)) text += `\naudit:\n  output: ${auditFile}\n`;
  if (!/^admin:/m.test(text)) text += '\nadmin:\n  listen: 127.0.0.1:0\n';
  if (!/^ {2}listen:/m.test(text.split(/^admin:/m)[0] ?? '')) {
    text = /^server:/m.test(text)
      ? text.replace(/^server:\n/m, `server:\n  listen: 127.0.0.1:${port}\n`)
      : `server:\n  listen: 127.0.0.1:${port}\n${text}`;
  }
  const configFile = join(dir, 'gatehouse.yaml');
  writeFileSync(configFile, text);
  const log = createLogger({ level: 'debug', destination: pino.destination({ dest: logFile, sync: true }) });
  const gh = await startGatehouse({ configFile, log, registry: new Registry() });
  const adminUrl = `http://127.0.0.1:${gh.adminAddress.port}`;
  // What is written so far; a line still being written appears on a later read (auditLine waits).
  const audit = () => {
    gh.current().audit.flushSync();
    return readLines(auditFile);
  };
  return {
    gh,
    url: `http://127.0.0.1:${gh.publicAddress.port}`,
    adminUrl,
    configFile,
    dir,
    audit,
    logs: () => readLines(logFile),
    auditLine: (predicate, opts = {}) =>
      waitForValue(
        async () => {
          await gh.current().audit.flush(); // every line handed over so far is in the file
          return readLines(auditFile).find(predicate);
        },
        { timeoutMs: 3000, what: 'an audit line', ...opts },
      ),
    ready: (timeoutMs = 10_000) => waitForReady(adminUrl, { timeoutMs }),
    close: () => gh.shutdown(),
  };
}

/**
 * Resolves once `{adminUrl}/readyz` answers 200 – of this process's Gatehouse or of a
 * `gatehouse serve` child. A refused connection is "not yet" (a child still starting); `gone`
 * ends the wait at once when it returns a reason (the child exited: waiting cannot help).
 */
export async function waitForReady(
  adminUrl: string,
  opts: WaitOptions & { gone?: () => string | undefined } = {},
): Promise<void> {
  const { gone, ...wait } = opts;
  let last = 'no answer yet';
  try {
    await waitFor(
      async () => {
        const reason = gone?.();
        if (reason !== undefined) throw new Error(`gave up waiting for ${adminUrl}/readyz: ${reason}`);
        try {
          const res = await request(`${adminUrl}/readyz`);
          await res.body.dump();
          last = `HTTP ${res.statusCode}`;
          return res.statusCode === 200;
        } catch (err) {
          last = (err as Error).message;
          return false; // not listening yet
        }
      },
      { timeoutMs: 10_000, what: `${adminUrl}/readyz to answer 200`, ...wait },
    );
  } catch (err) {
    // The timeout says what never came; the last answer says why.
    if ((err as Error).message.startsWith('timed out'))
      throw new Error(`${(err as Error).message} (last: ${last})`);
    throw err;
  }
}

/**
 * The JSON lines of a log file. A line still being written (no newline yet) is left for the
 * next read, and a line that is not JSON is skipped rather than hiding all the others.
 */
function readLines(file: string): LogLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // not created yet: nothing written
  }
  const lines: LogLine[] = [];
  for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
    if (line === '') continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // not a JSON line: skipped
    }
  }
  return lines;
}
