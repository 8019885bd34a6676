/**
 * A throwaway redis-server for tests: loopback, a free port, no persistence, a temp dir; it can
 * be killed and restarted on the same port (outage tests). Missing redis-server fails in CI and
 * skips elsewhere.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** `skip` option for `describe`: false when redis-server exists; throws in CI when it does not. */
export function redisMissing(): string | false {
  if (existsSync(REDIS_SERVER)) return false;
  if (process.env.CI === 'true')
    throw new Error(`${REDIS_SERVER} is missing (install Debian package redis-server)`);
  return 'install Debian package redis-server';
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: an outage, not a clean shutdown */
  kill(): Promise<void>;
  /** start again on the same port (empty: no persistence) */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    child = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (await pingable(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server did not start on port ${port}`);
  }

  async function kill(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGKILL');
    await exited;
  }

  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, restart: start, close: kill };
}

function pingable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
