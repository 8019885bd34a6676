/**
 * The scale soak's report: least-squares slopes after warm-up, the RESULTS.md section and a small
 * SVG of RSS, heap, fds and p99 over time (no dependencies).
 */
import type { ScaleSample } from './scale.ts';

type Key = 'rss_mb' | 'heap_used_mb' | 'fds' | 'p99_ms';

/** Least-squares slope of `key` per minute over the samples after `warmup` seconds. */
export function slopePerMinute(samples: readonly ScaleSample[], key: Key, warmup: number): number {
  const xs = samples.filter((s) => s.t > warmup);
  if (xs.length < 2) return 0;
  const mt = xs.reduce((a, s) => a + s.t, 0) / xs.length;
  const mv = xs.reduce((a, s) => a + s[key], 0) / xs.length;
  const num = xs.reduce((a, s) => a + (s.t - mt) * (s[key] - mv), 0);
  const den = xs.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

const CHARTS: [Key, string][] = [
  ['rss_mb', 'RSS MB'],
  ['heap_used_mb', 'heap used MB'],
  ['fds', 'open fds'],
  ['p99_ms', 'p99 ms (per 5 s)'],
];

export function scaleSvg(samples: readonly ScaleSample[], warmup: number): string {
  const w = 300;
  const h = 120;
  const pad = 30;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const parts = CHARTS.map(([key, label], i) => {
    const x0 = (i % 2) * (w + 20);
    const y0 = Math.floor(i / 2) * (h + 30);
    const vs = samples.map((s) => s[key]);
    const max = Math.max(1, ...vs) * 1.1;
    const pts = samples
      .map(
        (s) =>
          `${(x0 + pad + (s.t / tMax) * (w - pad)).toFixed(1)},${(y0 + h - (s[key] / max) * (h - 20)).toFixed(1)}`,
      )
      .join(' ');
    const wx = (x0 + pad + (warmup / tMax) * (w - pad)).toFixed(1);
    return `<g><text x="${x0 + pad}" y="${y0 + 12}" font-size="11">${label} (max ${Math.max(...vs).toFixed(1)})</text>
<line x1="${x0 + pad}" y1="${y0 + h}" x2="${x0 + w}" y2="${y0 + h}" stroke="#999"/>
<line x1="${wx}" y1="${y0 + 16}" x2="${wx}" y2="${y0 + h}" stroke="#ccc" stroke-dasharray="3"/>
<text x="${x0}" y="${y0 + h + 12}" font-size="9">0 s</text><text x="${x0 + w - 20}" y="${y0 + h + 12}" font-size="9">${tMax} s</text>
<polyline fill="none" stroke="#2b6cb0" stroke-width="1.5" points="${pts}"/></g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * w + 40}" height="${2 * (h + 30) + 10}" font-family="sans-serif">
${parts.join('\n')}
</svg>
`;
}

export function scaleSection(r: {
  date: string;
  seconds: number;
  warmup_seconds: number;
  distinct: number;
  connections: number;
  websockets: number;
  cache_size: { tokens: number; sessions: number };
  samples: ScaleSample[];
}): string {
  const s = r.samples;
  // The caches fill for a while after warm-up (20,000 first verifies): the second half's slope
  // says whether growth continues once they are full.
  const half = Math.round((s.at(-1)?.t ?? 0) / 2);
  const steady = s.filter((x) => x.t > r.warmup_seconds);
  const first = steady[0] ?? s[0];
  const last = s.at(-1);
  const lookups = (x: ScaleSample | undefined) =>
    x ? { tm: x.token_misses, th: x.token_hits, sm: x.session_misses, sh: x.session_hits } : undefined;
  const a = lookups(first);
  const b = lookups(last);
  const rate = (miss: number, hit: number) =>
    miss + hit === 0 ? '–' : `${((100 * miss) / (miss + hit)).toFixed(2)} %`;
  const requests = s.reduce((acc, x) => acc + x.rps * 5, 0);
  const errors = s.reduce((acc, x) => acc + x.errors, 0);
  const row = (label: string, key: Key, unit: string) =>
    `| ${label} | ${first?.[key] ?? '–'} | ${last?.[key] ?? '–'} | ${Math.max(...s.map((x) => x[key]))} | ${slopePerMinute(s, key, r.warmup_seconds).toFixed(2)} ${unit}/min | ${slopePerMinute(s, key, half).toFixed(2)} ${unit}/min |`;
  return [
    '<!-- scale-soak:begin (bench/soak/scale.ts) -->',
    '## Scale soak',
    '',
    `\`npm run bench:soak\` on ${r.date}: ${r.seconds} s against \`gatehouse serve\` (one worker, unpinned, on 2 shared cores`,
    `beside wrk and the upstream). wrk -t1 -c${r.connections} holds ${r.connections} keep-alive connections cycling through ${r.distinct}`,
    `distinct sealed sessions and ${r.distinct} distinct ES256 bearer tokens (alternating), in 5 s slices (one p99`,
    `each); ${r.websockets} websockets stay open through Gatehouse to an echo upstream and echo once per slice.`,
    `Caches: tokens ${r.cache_size.tokens}, sessions ${r.cache_size.sessions} entries (the defaults). About ${requests} requests, ${errors} errors.`,
    '',
    `| after ${r.warmup_seconds} s warm-up | first sample | last sample | max | slope after warm-up | slope after ${half} s |`,
    '|---|---:|---:|---:|---:|---:|',
    row('RSS MB', 'rss_mb', 'MB'),
    row('heap used MB', 'heap_used_mb', 'MB'),
    row('open fds', 'fds', 'fds'),
    row('p99 ms (5 s slice)', 'p99_ms', 'ms'),
    `| websockets answering | ${first?.ws_open ?? '–'} | ${last?.ws_open ?? '–'} | ${r.websockets} | | |`,
    '',
    a && b
      ? `Cache misses after warm-up: tokens ${b.tm - a.tm} of ${b.tm - a.tm + b.th - a.th} lookups (${rate(b.tm - a.tm, b.th - a.th)}), sessions ${b.sm - a.sm} of ${b.sm - a.sm + b.sh - a.sh} (${rate(b.sm - a.sm, b.sh - a.sh)}): ${b.tm - a.tm + b.sm - a.sm === 0 ? 'no thrashing, every distinct credential stays cached' : 'misses after warm-up mean entries are evicted and verified again'}.`
      : '',
    '',
    'wrk opens its connections anew every slice, so each slice starts with a connect storm of',
    `${r.connections} connections against one accept loop: a slice whose fds (read 4 s in) are below the maximum is one`,
    'where not every connection was open yet, and those are the slices whose p99 is in seconds – queueing',
    'to connect, not steady-state latency. Heap used is a GC sawtooth; read the slopes with it.',
    '',
    '![RSS, heap, fds and p99 over the scale soak](results/scale-soak.svg)',
    '',
    'Samples are in `results/scale-soak.json`.',
    '<!-- scale-soak:end -->',
  ].join('\n');
}
