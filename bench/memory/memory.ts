/**
 * What streaming costs in memory: big downloads to slow readers (1, 4 and 16 at once) and one
 * big upload to a slow upstream, through Gatehouse and, side by side in the same run, through
 * the two references it stands on: bare http-proxy-3 (bench/macro/bare-proxy.ts) and a bare node
 * pipe (test/fixtures/bare-pipe.ts). Each cell is a fresh proxy process, warmed up, measured by
 * the same preloaded probe (test/fixtures/memory-probe.ts): peak RSS over the baseline, and the
 * peak of heapUsed + arrayBuffers over the baseline, sampled every 5 ms with no forced GC – so
 * dead Buffers the collector has not reached yet count, as they do in production.
 *
 * Streaming memory should stay flat in the body size and grow with the number of streams by no
 * more than their socket buffers (a few hundred KiB each).
 *
 *   node bench/memory/memory.ts [--json]
 * Environment: MEMORY_MIB (per download, default 96), MEMORY_STREAMS (default 1,4,16),
 * MEMORY_UPLOAD_MIB (default 96; 0 skips the upload), MEMORY_ROUNDS (default 1: medians over rounds).
 */

import {
  type MemoryGrowth,
  measureStreams,
  measureUpload,
  type ProxyKind,
  startMeasuredProxy,
  warmUp,
} from '../../test/fixtures/streaming-memory.ts';
import { startEchoUpstream } from '../../test/helpers/upstream.ts';

const MIB = 1024 * 1024;
const PROXIES: ProxyKind[] = ['gatehouse', 'http-proxy-3', 'node-pipe'];
const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  return Number.isFinite(v) && v >= 0 ? v : fallback;
};
const downloadMib = num('MEMORY_MIB', 96) || 96;
const uploadMib = num('MEMORY_UPLOAD_MIB', 96);
const rounds = Math.max(1, Math.floor(num('MEMORY_ROUNDS', 1)));
const streamCounts = (process.env.MEMORY_STREAMS ?? '1,4,16')
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0 && n <= 64);
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Row {
  case: string;
  /** MiB through the proxy per stream */
  mib: number;
  results: Partial<Record<ProxyKind, MemoryGrowth>>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const medianGrowth = (all: MemoryGrowth[]): MemoryGrowth => ({
  rssGrowthKb: median(all.map((g) => g.rssGrowthKb)),
  liveGrowthKb: median(all.map((g) => g.liveGrowthKb)),
  arrayBuffersGrowthKb: median(all.map((g) => g.arrayBuffersGrowthKb)),
  ms: median(all.map((g) => g.ms)),
});

/** One measurement in a fresh proxy process. */
async function measure(
  kind: ProxyKind,
  upstream: string,
  run: (p: Awaited<ReturnType<typeof startMeasuredProxy>>) => Promise<MemoryGrowth>,
): Promise<MemoryGrowth> {
  const proxy = await startMeasuredProxy(kind, upstream);
  try {
    await warmUp(proxy);
    return await run(proxy);
  } catch (err) {
    throw new Error(`${kind}: ${(err as Error).message}\n${proxy.output().slice(-2000)}`, { cause: err });
  } finally {
    await proxy.stop();
  }
}

const upstream = await startEchoUpstream();
const rows: Row[] = [];
try {
  const cases: { name: string; mib: number; run: Parameters<typeof measure>[2] }[] = streamCounts.map(
    (n) => ({
      name: `${n} download${n > 1 ? 's' : ''}`,
      mib: downloadMib,
      run: (p) => measureStreams(p, n, downloadMib * MIB),
    }),
  );
  if (uploadMib > 0)
    cases.push({ name: '1 upload', mib: uploadMib, run: (p) => measureUpload(p, uploadMib * MIB) });
  for (const c of cases) {
    const row: Row = { case: c.name, mib: c.mib, results: {} };
    // Proxies interleaved within a case and across rounds: a noisy minute hits them alike.
    const all = new Map<ProxyKind, MemoryGrowth[]>(PROXIES.map((k) => [k, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const kind of PROXIES) {
        log(`memory: ${c.name} × ${c.mib} MiB, ${kind}${rounds > 1 ? `, round ${round}/${rounds}` : ''}`);
        all.get(kind)?.push(await measure(kind, upstream.url, c.run));
      }
    }
    for (const kind of PROXIES) row.results[kind] = medianGrowth(all.get(kind) ?? []);
    rows.push(row);
  }
} finally {
  await upstream.close();
}

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ node: process.version, rounds, rows }, null, 2)}\n`);
} else {
  const mib = (kb: number | undefined) => (kb === undefined ? '–' : (kb / 1024).toFixed(1)).padStart(7);
  const head = PROXIES.map((k) => k.padStart(23)).join('  ');
  const sub = PROXIES.map(() => `${'RSS'.padStart(7)}${'live'.padStart(8)}${'bufs'.padStart(8)}`).join('  ');
  process.stdout.write(
    `\nstreaming memory: peak growth over the baseline, MiB (live = heapUsed + arrayBuffers, bufs = arrayBuffers;\n` +
      `${rounds} round(s), medians)\n  ${'case'.padEnd(22)}${head}\n  ${''.padEnd(22)}${sub}\n`,
  );
  for (const r of rows) {
    const cells = PROXIES.map((k) => {
      const g = r.results[k];
      return `${mib(g?.rssGrowthKb)} ${mib(g?.liveGrowthKb)} ${mib(g?.arrayBuffersGrowthKb)}`;
    });
    process.stdout.write(`  ${`${r.case} × ${r.mib} MiB`.padEnd(22)}${cells.join('  ')}\n`);
  }
}
