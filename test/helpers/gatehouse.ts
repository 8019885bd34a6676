/**
 * Start a real Gatehouse (in this process) from YAML text, on free loopback ports, with its
 * audit lines written to a temp file the test can read. Logs go to a temp file too, so the
 * secret-scanning test can read every line the suite produced: every instance writes under
 * {@link TEST_LOG_DIR} (`$GATEHOUSE_TEST_LOG_DIR`, which `npm test` sets to a fresh directory
 * per run, else a fixed directory under the OS temp dir).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/observe/logger.ts';
import { type Gatehouse, startGatehouse } from '../../src/server/gatehouse.ts';

/** Where every test Gatehouse writes its config, log and audit files (read by test/secrets-scan). */
export const TEST_LOG_DIR = process.env.GATEHOUSE_TEST_LOG_DIR || join(tmpdir(), 'gatehouse-test-logs');

export interface TestGatehouse {
  readonly gh: Gatehouse;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly adminUrl: string;
  readonly configFile: string;
  readonly dir: string;
  audit(): Record<string, unknown>[];
  logs(): Record<string, unknown>[];
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
  const readLines = (file: string) => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    } catch {
      return [];
    }
  };
  return {
    gh,
    url: `http://127.0.0.1:${gh.publicAddress.port}`,
    adminUrl: `http://127.0.0.1:${gh.adminAddress.port}`,
    configFile,
    dir,
    audit: () => {
      gh.current().audit.flush();
      return readLines(auditFile);
    },
    logs: () => readLines(logFile),
    close: () => gh.shutdown(),
  };
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as import('node:net').AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Wait until `check` is true, polling; bounded by `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
}
