/**
 * bench/results/chart.svg from bench/results/macro.json: two panels of horizontal bars by
 * scenario – throughput (req/s) and p99 latency (ms). Plain SVG, no dependencies.
 * Run alone: node_modules/.bin/node bench/chart.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { MacroResult } from './macro/macro.ts';

const ROW = 22;
const LABEL = 130;
const BAR = 300;
const PANEL = LABEL + BAR + 70;

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

function panel(
  title: string,
  x0: number,
  rows: { label: string; value: number }[],
  unit: string,
  color: string,
) {
  const max = Math.max(...rows.map((r) => r.value), 1e-9);
  const out = [`<text x="${x0}" y="18" font-weight="bold">${esc(title)}</text>`];
  rows.forEach((r, i) => {
    const y = 30 + i * ROW;
    const w = Math.max(1, (r.value / max) * BAR);
    out.push(
      `<text x="${x0 + LABEL - 6}" y="${y + 14}" text-anchor="end">${esc(r.label)}</text>`,
      `<rect x="${x0 + LABEL}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${color}"/>`,
      `<text x="${x0 + LABEL + w + 4}" y="${y + 14}">${r.value.toFixed(unit === 'ms' ? 2 : 0)} ${unit}</text>`,
    );
  });
  return out.join('\n');
}

export function chartSvg(m: MacroResult): string {
  const rps = m.scenarios.map((s) => ({ label: s.name, value: s.rps }));
  const p99 = m.scenarios.map((s) => ({ label: s.name, value: s.p99_ms }));
  const height = 40 + m.scenarios.length * ROW + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * PANEL}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${panel('Throughput (req/s, higher is better)', 0, rps, 'req/s', '#4c78a8')}
${panel('p99 latency (ms, lower is better)', PANEL, p99, 'ms', '#e45756')}
<text x="4" y="${height - 6}" fill="#666">wrk -t1 -c${m.connections}, ${m.seconds}s per scenario, ${m.rounds} round(s), medians; proxy pinned to CPU 0</text>
</svg>
`;
}

export function writeChart(m: MacroResult, file: string): void {
  writeFileSync(file, chartSvg(m));
}

if (import.meta.main) {
  const dir = new URL('./results/', import.meta.url);
  writeChart(
    JSON.parse(readFileSync(new URL('macro.json', dir), 'utf8')) as MacroResult,
    new URL('chart.svg', dir).pathname,
  );
}
