/**
 * One bounded load run against a URL: wrk (`-t1 -cC -dDs --latency`, figures from report.lua),
 * or, when wrk is not installed, a bounded keep-alive loop in this process (same connection
 * count and duration; its own CPU then competes with the server, so figures are rougher).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadResult {
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** non-2xx/3xx answers, connect/read/write errors and timeouts */
  errors: number;
}

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  seconds: number;
  connections: number;
  /** taskset CPU list for the load generator */
  cpus?: string;
  /** send each request as a POST with a body of this many bytes (wrk only) */
  uploadBytes?: number;
  /** a wrk Lua script of its own (it must print report.lua's WRKJSON line; wrk only) */
  script?: string;
}

const LUA = new URL('./report.lua', import.meta.url).pathname;
export const HAS_WRK = spawnSync('wrk', ['--version']).error === undefined;

export function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (o.script !== undefined && !HAS_WRK) throw new Error('a load script needs wrk (apt-get install wrk)');
  if (o.uploadBytes !== undefined && !HAS_WRK) throw new Error('uploads need wrk (apt-get install wrk)');
  return HAS_WRK ? runWrk(o) : runNodeLoop(o);
}

/** report.lua, preceded for uploads by the request it sends (one script per body size). */
function luaFor(o: LoadOptions): string {
  if (o.script !== undefined) return o.script;
  if (o.uploadBytes === undefined) return LUA;
  const file = join(tmpdir(), `gatehouse-bench-upload-${o.uploadBytes}.lua`);
  const setup = `wrk.method = "POST"\nwrk.body = string.rep("x", ${o.uploadBytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`;
  writeFileSync(file, setup + readFileSync(LUA, 'utf8'));
  return file;
}

async function runWrk(o: LoadOptions): Promise<LoadResult> {
  const args = [
    '-t1',
    `-c${o.connections}`,
    `-d${o.seconds}s`,
    '--latency',
    '--timeout',
    '5s',
    '-s',
    luaFor(o),
  ];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  const cmd = o.cpus !== undefined ? 'taskset' : 'wrk';
  const child = spawn(cmd, o.cpus !== undefined ? ['-c', o.cpus, 'wrk', ...args] : args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), (o.seconds + 15) * 1000);
  await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(killer);
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`wrk produced no report:\n${out}`);
  const r = JSON.parse(line.slice(8)) as {
    requests: number;
    duration_us: number;
    errors: Record<string, number>;
    p50_us: number;
    p99_us: number;
  };
  return {
    requests: r.requests,
    rps: r.requests / (r.duration_us / 1e6),
    p50_ms: r.p50_us / 1000,
    p99_ms: r.p99_us / 1000,
    errors: Object.values(r.errors).reduce((a, b) => a + b, 0),
  };
}

async function runNodeLoop(o: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const url = new URL(o.url);
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + o.seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t = performance.now();
      const req = request(url, { agent, headers: o.headers, timeout: 5000 }, (res) => {
        res.resume();
        res.once('end', () => {
          if ((res.statusCode ?? 500) >= 400) errors++;
          latencies.push(performance.now() - t);
          resolve();
        });
      });
      req.once('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      while (performance.now() < until) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    requests: latencies.length,
    rps: latencies.length / elapsed,
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    errors,
  };
}
