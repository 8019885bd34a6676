/**
 * A real Caddy for integration tests, run from the file users copy: `config/caddy/Caddyfile` is
 * templated for addresses only (`app.example.com` → `http://127.0.0.1:<listen>`, `127.0.0.1:8080`
 * → Gatehouse, `127.0.0.1:9000` → the app) behind a global block that turns off the admin API
 * and automatic HTTPS. Caddy runs in the foreground as a child process and is stopped by `close()`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from './ports.ts';

export const CADDYFILE = new URL('../../config/caddy/Caddyfile', import.meta.url).pathname;

/** The caddy binary, or undefined when it is not installed. */
export function findCaddy(): string | undefined {
  for (const candidate of ['/usr/bin/caddy', '/usr/local/bin/caddy']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** For `describe(name, { skip: caddySkip() }, …)`; throws in CI, where a missing caddy must fail. */
export function caddySkip(): string | false {
  if (findCaddy()) return false;
  if (process.env.CI === 'true') throw new Error('caddy is required in CI: install Debian package caddy');
  return 'caddy not found: install Debian package caddy';
}

export interface CaddyPorts {
  listen: number;
  gatehouse: number;
  app: number;
}

/** The shipped Caddyfile with its addresses replaced; every placeholder must be present. */
export function templateCaddyfile(text: string, ports: CaddyPorts): string {
  const swap = (from: string, to: string) => {
    if (!text.includes(from)) throw new Error(`Caddyfile has no "${from}" to template`);
    text = text.replaceAll(from, to);
  };
  swap('\napp.example.com {', `\nhttp://127.0.0.1:${ports.listen} {`);
  swap('127.0.0.1:8080', `127.0.0.1:${ports.gatehouse}`);
  swap('127.0.0.1:9000', `127.0.0.1:${ports.app}`);
  return `{\n\tadmin off\n\tauto_https off\n}\n\n${text}`;
}

export interface TestCaddy {
  /** caddy's output so far (for assertion messages) */
  log(): string;
  close(): Promise<void>;
}

export async function startCaddy(
  ports: CaddyPorts,
  text = readFileSync(CADDYFILE, 'utf8'),
): Promise<TestCaddy> {
  const bin = findCaddy();
  if (!bin) throw new Error('caddy not found: install Debian package caddy');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-caddy-'));
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, templateCaddyfile(text, ports));
  // Caddy keeps its data and config state under XDG dirs: keep them in the temp dir.
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
  try {
    execFileSync(bin, ['validate', '--config', file, '--adapter', 'caddyfile'], { stdio: 'pipe', env });
  } catch (err) {
    const e = err as { stderr?: Buffer };
    throw new Error(`caddy validate refused the Caddyfile: ${e.stderr?.toString() ?? String(err)}`);
  }
  const child: ChildProcess = spawn(bin, ['run', '--config', file, '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let output = '';
  const collect = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(ports.listen, 10_000, () => child.exitCode !== null, 'caddy');
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`caddy did not start: ${(err as Error).message}\n${output}`);
  }
  return {
    log: () => output,
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
