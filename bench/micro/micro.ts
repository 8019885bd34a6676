/**
 * Runs the mitata files in bench/micro/ in child processes (one clean process each, mitata
 * redirected by ../lib/capture.ts so results come back as JSON) and computes ratios: every case
 * against the reference of its group (the first case whose name says "raw" or "reference"), and
 * the named ratios the guard checks. Ratios use the median (p50) time per iteration.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseResult } from '../lib/mitata-shim.ts';
import { NODE, ROOT } from '../macro/procs.ts';

export interface FileResult {
  file: string;
  cases: (CaseResult & { reference?: string; ratio?: number })[];
}

export interface NamedRatio {
  name: string;
  file: string;
  case: string;
  reference: string;
  /** issue 9's goal for case / reference (an upper bound): reported as met or not */
  target: number;
  /** the regression limit: `bench:guard` fails above it */
  limit: number;
}

/**
 * The guarded ratios (p50 per iteration). Limits sit above where the implementation measures on
 * 2 shared cores with room for noise: a warm path that starts decrypting, verifying or signing
 * again lands at 1.0 or more, a cold verify that verifies twice at 2.0, far past them. On a
 * busy host the same code measured 0.034–0.083 (bearer), 0.056–0.106 (session) and up to 1.61
 * (cold RS256) in rounds a minute apart, before and after a change alike: limits closer than
 * that fail landings on noise alone.
 */
export const MICRO_RATIOS: NamedRatio[] = [
  {
    name: 'warm whole-request decision, bearer / raw ES256 verify',
    file: 'decision.bench.ts',
    case: 'decision: warm bearer (ES256)',
    reference: 'raw crypto.verify ES256 (reference)',
    target: 0.05,
    limit: 0.15,
  },
  {
    name: 'warm whole-request decision, session / raw ES256 verify',
    file: 'decision.bench.ts',
    case: 'decision: warm session cookie',
    reference: 'raw crypto.verify ES256 (reference)',
    target: 0.05,
    limit: 0.15,
  },
  ...(['RS256', 'ES256', 'EdDSA'] as const).map((alg) => ({
    name: `cold bearer verify ${alg} / jose jwtVerify`,
    file: 'bearer.bench.ts',
    case: `${alg} gatehouse cold verify`,
    reference: `${alg} jose jwtVerify`,
    target: 1.1,
    limit: 1.8,
  })),
];

export const MICRO_DIR = join(ROOT, 'bench/micro');

export function microFiles(): string[] {
  return readdirSync(MICRO_DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort();
}

/** Run one bench file; `filter` restricts the cases (a regular expression source). */
export async function runMicroFile(file: string, filter?: string, timeoutS = 300): Promise<FileResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-micro-'));
  const out = join(dir, 'out.json');
  try {
    const child = spawn(NODE, ['--import', './bench/lib/capture.ts', join('bench/micro', file)], {
      cwd: ROOT,
      env: {
        ...process.env,
        GATEHOUSE_BENCH_OUT: out,
        GATEHOUSE_BENCH_QUIET: '1',
        ...(filter ? { GATEHOUSE_BENCH_FILTER: filter } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    if (code !== 0) throw new Error(`${file} exited ${code}:\n${stderr}`);
    if (stderr.trim()) process.stderr.write(stderr);
    const cases = JSON.parse(readFileSync(out, 'utf8')) as CaseResult[];
    return { file, cases: withReferences(cases) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withReferences(cases: CaseResult[]): FileResult['cases'] {
  const refs = new Map<string, CaseResult>();
  for (const c of cases) if (!refs.has(c.group) && /raw|reference/i.test(c.name)) refs.set(c.group, c);
  return cases.map((c) => {
    const ref = refs.get(c.group);
    return ref && ref !== c ? { ...c, reference: ref.name, ratio: c.p50 / ref.p50 } : { ...c };
  });
}

/** The named ratio in one set of file results, or undefined when a case is missing. */
export function namedRatio(results: FileResult[], r: NamedRatio): number | undefined {
  const cases = results.find((f) => f.file === r.file)?.cases;
  const a = cases?.find((c) => c.name === r.case);
  const b = cases?.find((c) => c.name === r.reference);
  return a && b ? a.p50 / b.p50 : undefined;
}

export function formatTime(ns: number): string {
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

export function microTable(results: FileResult[]): string {
  const lines: string[] = [];
  for (const f of results) {
    lines.push(`\n${f.file}`);
    for (const c of f.cases) {
      const ratio = c.ratio !== undefined ? `${c.ratio.toFixed(3)}× ${c.reference}` : '';
      lines.push(
        `  ${`${c.group ? `${c.group} › ` : ''}${c.name}`.padEnd(72)} p50 ${formatTime(c.p50).padStart(10)}  ${ratio}`,
      );
    }
  }
  return lines.join('\n');
}
