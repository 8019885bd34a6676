/**
 * A real nginx for integration tests, run from the files users install: `config/nginx/*.conf`
 * are copied into `<tmp>/snippets/` unchanged, and a site file is templated for ports only
 * (`127.0.0.1:8080` → Gatehouse, `127.0.0.1:9000` → the app, `listen 80;` → a loopback port).
 * nginx runs in the foreground as a child process with its own prefix, pid file, logs and temp
 * paths in a temp dir, listening on 127.0.0.1 only, and is stopped by `close()`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from './ports.ts';

export const NGINX_CONFIG_DIR = new URL('../../config/nginx/', import.meta.url).pathname;

/** The nginx binary, or undefined when it is not installed. */
export function findNginx(): string | undefined {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  try {
    return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * For `describe(name, { skip: nginxSkip() }, …)`: false when nginx is present; a skip message
 * when it is not; throws in CI, where a missing nginx must fail rather than pass silently.
 */
export function nginxSkip(): string | false {
  if (findNginx()) return false;
  if (process.env.CI === 'true') throw new Error('nginx is required in CI: install Debian package nginx');
  return 'nginx not found: install Debian package nginx';
}

export interface SitePorts {
  /** nginx's listen port */
  listen: number;
  /** Gatehouse's public port (replaces 127.0.0.1:8080) */
  gatehouse: number;
  /** the app upstream's port (replaces 127.0.0.1:9000) */
  app?: number;
  /** more `from → to` port replacements on `127.0.0.1:from` (e.g. oauth2-proxy's 4180) */
  more?: Record<number, number>;
}

/** A site file with its ports replaced; every placeholder it names must be present. */
export function templateSite(text: string, ports: SitePorts): string {
  const swap = (from: string, to: string) => {
    if (!text.includes(from)) throw new Error(`site file has no "${from}" to template`);
    text = text.replaceAll(from, to);
  };
  swap('listen 80;', `listen 127.0.0.1:${ports.listen};`);
  swap('127.0.0.1:8080', `127.0.0.1:${ports.gatehouse}`);
  if (ports.app !== undefined) swap('127.0.0.1:9000', `127.0.0.1:${ports.app}`);
  for (const [from, to] of Object.entries(ports.more ?? {})) swap(`127.0.0.1:${from}`, `127.0.0.1:${to}`);
  return text;
}

/** The shipped `site.example.conf`, templated with `ports`: the site most tests run. */
export function shippedSite(ports: SitePorts): string {
  return templateSite(readFileSync(join(NGINX_CONFIG_DIR, 'site.example.conf'), 'utf8'), ports);
}

export interface NginxOptions {
  /** http { } context text: usually `templateSite(readFileSync(site.example.conf), …)` */
  sites: string[];
  /** ports to wait for before resolving */
  ports: number[];
  /** more files for `<tmp>/snippets/`, by name (a user's edited copy of a shipped snippet) */
  extraSnippets?: Record<string, string>;
}

export interface TestNginx {
  readonly dir: string;
  /** error log contents so far (for assertion messages) */
  errorLog(): string;
  close(): Promise<void>;
}

export async function startNginx(opts: NginxOptions): Promise<TestNginx> {
  const bin = findNginx();
  if (!bin) throw new Error('nginx not found: install Debian package nginx');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'));
  chmodSync(dir, 0o755); // workers run as an unprivileged user when the tests run as root
  const snippets = join(dir, 'snippets');
  execFileSync('mkdir', ['-p', snippets]);
  for (const name of readdirSync(NGINX_CONFIG_DIR)) {
    if (name.endsWith('.conf')) copyFileSync(join(NGINX_CONFIG_DIR, name), join(snippets, name));
  }
  for (const [name, text] of Object.entries(opts.extraSnippets ?? {}))
    writeFileSync(join(snippets, name), text);
  const includes = opts.sites.map((text, i) => {
    writeFileSync(join(dir, `site-${i}.conf`), text);
    return `    include site-${i}.conf;`;
  });
  const errorLog = join(dir, 'error.log');
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} info;`,
      'events { worker_connections 512; }',
      'http {',
      `    access_log ${join(dir, 'access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (t) => `    ${t}_temp_path ${join(dir, `${t}_temp`)};`,
      ),
      // the line auth-cache.conf asks users to add to http { }, with a temp path
      `    proxy_cache_path ${join(dir, 'auth-cache')} levels=1:2 keys_zone=gatehouse_auth:1m max_size=8m inactive=60s use_temp_path=off;`,
      ...includes,
      '}',
      '',
    ].join('\n'),
  );
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', errorLog];
  try {
    execFileSync(bin, [...args, '-t', '-q'], { stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: Buffer };
    throw new Error(`nginx -t refused the config: ${e.stderr?.toString() ?? String(err)}`);
  }
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const readLog = () => {
    try {
      return readFileSync(errorLog, 'utf8') + stderr;
    } catch {
      return stderr;
    }
  };
  try {
    for (const port of opts.ports) await waitForPort(port, 5000, () => child.exitCode !== null, 'nginx');
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`nginx did not start: ${(err as Error).message}\n${readLog()}`);
  }
  return {
    dir,
    errorLog: readLog,
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM'); // fast shutdown of the master and its workers
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
