/**
 * Forwarding engines side by side (`engine-proxy.ts`): http-proxy-3, undici's `Pool.dispatch`
 * and `node:http`'s client, each a bare proxy pinned to CPU 0, for small responses, 1 MiB
 * responses and 1 MiB uploads. The upstream and wrk share CPU 1. Each round runs every engine
 * on every payload; ratios to http-proxy-3 are taken within a round and the median over rounds
 * is reported, so a noisy neighbour moves both sides of a ratio alike.
 *
 * `node bench/macro/engines.ts [seconds] [rounds]` → bench/results/engines.json and a table.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLoad } from './load.ts';
import { median } from './macro.ts';
import { cpuMicros, freePort, NODE, type Proc, ROOT, start, waitForPort } from './procs.ts';

const ENGINES = ['http-proxy-3', 'undici', 'node-http'] as const;
const PAYLOADS = [
  { name: 'small', path: '/x', connections: 32 },
  { name: '1 MiB response', path: '/big', connections: 8 },
  { name: '1 MiB upload', path: '/up', connections: 8, uploadBytes: 1024 * 1024 },
] as const;

interface Run {
  rps: number;
  cpu_us_per_req: number;
  p99_ms: number;
}

export interface EngineResult {
  seconds: number;
  rounds: number;
  rows: {
    engine: string;
    payload: string;
    rps: number;
    cpu_us_per_req: number;
    p99_ms: number;
    rps_ratio: number;
    cpu_ratio: number;
  }[];
}

export async function runEngines(
  seconds: number,
  rounds: number,
  log = (s: string) => process.stderr.write(`${s}\n`),
): Promise<EngineResult> {
  const procs: Proc[] = [];
  try {
    const upstreamPort = await freePort();
    const up = start(NODE, ['bench/macro/upstream.ts'], { env: { PORT: String(upstreamPort) }, cpus: '1' });
    procs.push(up);
    await waitForPort(upstreamPort, up);
    const proxies = new Map<string, { port: number; proc: Proc }>();
    for (const engine of ENGINES) {
      const port = await freePort();
      const proc = start(NODE, ['bench/macro/engine-proxy.ts'], {
        env: { ENGINE: engine, PORT: String(port), UPSTREAM: `http://127.0.0.1:${upstreamPort}` },
        cpus: '0',
      });
      procs.push(proc);
      await waitForPort(port, proc);
      proxies.set(engine, { port, proc });
    }
    // runs[payload][engine] = one Run per round
    const runs = new Map<string, Map<string, Run[]>>();
    for (let round = 1; round <= rounds; round++) {
      for (const payload of PAYLOADS) {
        for (const engine of ENGINES) {
          const { port, proc } = proxies.get(engine)!;
          const base = {
            url: `http://127.0.0.1:${port}${payload.path}`,
            connections: payload.connections,
            cpus: '1',
            uploadBytes: 'uploadBytes' in payload ? payload.uploadBytes : undefined,
          };
          await runLoad({ ...base, seconds: 1 }); // warm: connections, JIT
          const cpu0 = cpuMicros(proc.pid);
          const load = await runLoad({ ...base, seconds });
          const cpu1 = cpuMicros(proc.pid);
          if (load.errors > 0 || load.requests === 0)
            throw new Error(`${engine} ${payload.name}: ${load.errors} errors in ${load.requests} requests`);
          const run = { rps: load.rps, cpu_us_per_req: (cpu1 - cpu0) / load.requests, p99_ms: load.p99_ms };
          const byEngine = runs.get(payload.name) ?? new Map<string, Run[]>();
          runs.set(payload.name, byEngine);
          byEngine.set(engine, [...(byEngine.get(engine) ?? []), run]);
          log(
            `  round ${round} ${payload.name.padEnd(15)} ${engine.padEnd(13)} ${run.rps.toFixed(0).padStart(6)} req/s  ${run.cpu_us_per_req.toFixed(0).padStart(5)} µs CPU/req  p99 ${run.p99_ms.toFixed(2)} ms`,
          );
        }
      }
    }
    const rows = PAYLOADS.flatMap((payload) => {
      const byEngine = runs.get(payload.name)!;
      const ref = byEngine.get('http-proxy-3')!;
      return ENGINES.map((engine) => {
        const rs = byEngine.get(engine)!;
        return {
          engine,
          payload: payload.name,
          rps: median(rs.map((r) => r.rps)),
          cpu_us_per_req: median(rs.map((r) => r.cpu_us_per_req)),
          p99_ms: median(rs.map((r) => r.p99_ms)),
          // per-round ratios, then their median
          rps_ratio: median(rs.map((r, i) => r.rps / ref[i]!.rps)),
          cpu_ratio: median(rs.map((r, i) => r.cpu_us_per_req / ref[i]!.cpu_us_per_req)),
        };
      });
    });
    return { seconds, rounds, rows };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

export function enginesTable(r: EngineResult): string {
  const lines = [
    `\nforwarding engines (${r.seconds}s per run, ${r.rounds} round(s), medians; ratios to http-proxy-3 in the same round)`,
    '| payload | engine | req/s | CPU µs/req | p99 ms | req/s ratio | CPU ratio |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows)
    lines.push(
      `| ${row.payload} | ${row.engine} | ${row.rps.toFixed(0)} | ${row.cpu_us_per_req.toFixed(0)} | ${row.p99_ms.toFixed(2)} | ${row.rps_ratio.toFixed(2)} | ${row.cpu_ratio.toFixed(2)} |`,
    );
  return lines.join('\n');
}

if (import.meta.main) {
  const result = await runEngines(Number(process.argv[2] ?? 4), Number(process.argv[3] ?? 3));
  writeFileSync(join(ROOT, 'bench/results/engines.json'), JSON.stringify(result, null, 2));
  process.stdout.write(`${enginesTable(result)}\n`);
}
