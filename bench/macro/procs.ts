/**
 * Child processes for the macro bench: spawn (optionally pinned to CPUs with taskset), wait
 * until a port answers, read the CPU time a process and its descendants used (/proc), stop.
 * Every wait is bounded.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

export const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
export const ROOT = new URL('../../', import.meta.url).pathname;
const HAS_TASKSET = spawnSync('taskset', ['-V']).status === 0;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

export interface Proc {
  readonly pid: number;
  readonly child: ChildProcess;
  /** stderr so far (last 8 KiB), for error messages */
  stderr(): string;
  stop(): Promise<number | null>;
}

/** `cpus`: a taskset list such as "0" (ignored when taskset is missing). */
export function start(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cpus?: string } = {},
): Proc {
  const pinned = opts.cpus !== undefined && HAS_TASKSET;
  const child = spawn(pinned ? 'taskset' : cmd, pinned ? ['-c', opts.cpus!, cmd, ...args] : args, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8192);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid!,
    child,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects after `timeoutMs` or if `proc` dies. */
export async function waitForPort(port: number, proc?: Proc, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) throw new Error(`process exited early: ${proc.stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms ${proc ? proc.stderr() : ''}`);
}

/** Resolves once GET url answers 200; bounded. */
export async function waitForOk(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} was not 200 within ${timeoutMs} ms`);
}

function statTicks(pid: number): { ticks: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" of the command name: state(3) ppid(4) … utime(14) stime(15).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** CPU µs used so far by `pid` and every live descendant (cluster workers included). */
export function cpuMicros(pid: number): number {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p)) continue;
    const s = statTicks(p);
    if (s) parents.set(p, s.ppid);
  }
  const family = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of parents) {
      if (!family.has(p) && family.has(pp)) {
        family.add(p);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const p of family) ticks += statTicks(p)?.ticks ?? 0;
  return (ticks * 1e6) / CLK_TCK;
}
