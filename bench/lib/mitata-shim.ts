/**
 * mitata, with a `run()` that also records each case's statistics for the runner:
 * `GATEHOUSE_BENCH_OUT` names the JSON file to write, `GATEHOUSE_BENCH_FILTER` (a regular
 * expression) restricts which cases run, `GATEHOUSE_BENCH_QUIET=1` skips mitata's own table.
 */
import { writeFileSync } from 'node:fs';
import * as mitata from 'mitata';

export * from 'mitata';

/** One case, times in nanoseconds per iteration. */
export interface CaseResult {
  group: string;
  name: string;
  avg: number;
  min: number;
  p50: number;
  p99: number;
  samples: number;
}

export async function run(opts: Parameters<typeof mitata.run>[0] = {}): ReturnType<typeof mitata.run> {
  const filter = process.env.GATEHOUSE_BENCH_FILTER;
  const result = await mitata.run({
    ...opts,
    ...(filter ? { filter: new RegExp(filter) } : {}),
    ...(process.env.GATEHOUSE_BENCH_QUIET === '1' ? { format: 'quiet' as const } : {}),
  });
  const out = process.env.GATEHOUSE_BENCH_OUT;
  if (out) {
    const cases: CaseResult[] = [];
    // `layout` and `group` exist at runtime (mitata 1.x) but not in its type declarations.
    const { layout, benchmarks } = result as typeof result & { layout: { name: unknown }[] };
    for (const trial of benchmarks as ((typeof benchmarks)[number] & { group: number })[]) {
      const group = layout[trial.group]?.name;
      for (const r of trial.runs) {
        if (!r.stats) throw new Error(`bench "${r.name}" failed: ${String(r.error ?? 'no stats')}`);
        cases.push({
          group: typeof group === 'string' ? group : '',
          name: r.name,
          avg: r.stats.avg,
          min: r.stats.min,
          p50: r.stats.p50,
          p99: r.stats.p99,
          samples: r.stats.samples.length,
        });
      }
    }
    writeFileSync(out, JSON.stringify(cases, null, 2));
  }
  return result;
}
