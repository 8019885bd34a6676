/**
 * `npm run bench:workers`: `server.workers: 2` against 1 on this 2-core machine, warm bearer, in
 * rounds (each scenario once per round, ratios within a round, medians). wrk is pinned to CPU 1
 * (`taskset -c 1`), Gatehouse and the upstream are not pinned, so two workers compete with wrk
 * and the upstream for the second core. Writes bench/results/workers.json and the workers section
 * of bench/RESULTS.md (between its markers, which `npm run bench` keeps).
 * Environment: BENCH_SECONDS (default 5), BENCH_ROUNDS (3).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { runMacro } from './macro.ts';
import { ROOT } from './procs.ts';

const date = new Date().toISOString();
const load = loadavg().map((x) => Number(x.toFixed(2)));
const m = await runMacro({
  seconds: Number(process.env.BENCH_SECONDS ?? 5) || 5,
  warmupSeconds: 1,
  rounds: Number(process.env.BENCH_ROUNDS ?? 3) || 3,
  connections: 16,
  only: ['gh-w1', 'gh-w2'],
});
writeFileSync(
  join(ROOT, 'bench/results/workers.json'),
  JSON.stringify({ date, loadavg_at_start: load, ...m }, null, 2),
);
const r = m.ratios.find((x) => x.name === 'gh-w2 / gh-w1');
function perRound(): string {
  const [one, two] = ['gh-w1', 'gh-w2'].map((n) => m.scenarios.find((s) => s.name === n)?.rounds ?? []);
  return (two ?? [])
    .map((x, i) => {
      const y = one?.[i];
      return y
        ? `${(x.rps / y.rps).toFixed(2)}× / ${(x.cpu_us_per_req / y.cpu_us_per_req).toFixed(2)}×`
        : '–';
    })
    .join(', ');
}
const out = [
  '<!-- workers:begin (bench/macro/workers.ts) -->',
  '## Two workers or one (2 cores, wrk on one of them)',
  '',
  `\`npm run bench:workers\` on ${date} (load average ${load.join(' ')}): warm bearer, wrk -t1 -c${m.connections} pinned to CPU 1`,
  `(\`taskset -c 1\`), Gatehouse (its primary and workers) and the upstream unpinned; ${m.seconds} s per scenario, ${m.rounds} rounds.`,
  'CPU µs/request counts the primary and every worker.',
  '',
  '| scenario | req/s | p50 ms | p99 ms | CPU µs/req | per round (req/s) |',
  '|---|---:|---:|---:|---:|---|',
  ...m.scenarios.map(
    (s) =>
      `| ${s.name} | ${s.rps.toFixed(0)} | ${s.p50_ms.toFixed(2)} | ${s.p99_ms.toFixed(2)} | ${s.cpu_us_per_req.toFixed(1)} | ${s.rounds.map((x) => x.rps.toFixed(0)).join(', ')} |`,
  ),
  ...m.skipped.map((s) => `| ${s.name} | left out: ${s.why} | | | | |`),
  '',
  r
    ? `Two workers over one, same round, median: throughput ${r.rps.toFixed(2)}×, CPU per request ${r.cpu_per_req.toFixed(2)}×, p99 ${r.p99.toFixed(2)}×.`
    : 'No ratio: a scenario was left out.',
  `Per round, throughput and CPU per request of two workers over one: ${perRound()}.`,
  '',
  'What this shows: what a second worker buys on two cores when the load generator and the',
  'upstream already need one of them – the ratio above; a second process also costs CPU of its own',
  '(its own caches to warm, more wake-ups for fewer requests each, the scheduler moving three busy',
  'processes over two cores). What it does not show: scaling on a machine with spare cores (here the',
  'second worker competes with wrk and the upstream), a cold cache (each worker verifies a token',
  'once), or an even spread of connections over workers (16 connections, the kernel decides).',
  '<!-- workers:end -->',
].join('\n');
const file = join(ROOT, 'bench/RESULTS.md');
const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
const marked = /<!-- workers:begin[\s\S]*<!-- workers:end -->/;
writeFileSync(
  file,
  marked.test(previous) ? previous.replace(marked, out) : `${previous.trimEnd()}\n\n${out}\n`,
);
process.stdout.write(`${out}\n`);
