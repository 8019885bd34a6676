/**
 * `npm run bench:peers`: Gatehouse beside Apache httpd + mod_auth_openidc (and nginx and bare
 * http-proxy-3), the same scenarios as `npm run bench`, alone and in more rounds; writes
 * bench/results/peers.json and the peers section of bench/RESULTS.md (between its markers, which
 * the full `npm run bench` keeps). Environment: BENCH_SECONDS (default 4), BENCH_ROUNDS (3).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type MacroResult, runMacro } from './macro.ts';
import { ROOT } from './procs.ts';

export const PEER_SCENARIOS = [
  'bare-proxy',
  'nginx',
  'apache',
  'gh-bearer',
  'gh-bearer-rs256',
  'apache+oidc-bearer',
];

/**
 * Who wins, per pair, from the medians of the per-round ratios; only a difference of more than a
 * fifth counts (gh-bearer-rs256 / gh-bearer, the same work, measured 0.82 and 1.13 in two runs).
 */
export function peersSection(m: MacroResult, date: string, load: number[]): string {
  const row = (name: string) => m.scenarios.find((s) => s.name === name);
  const out = [
    '<!-- peers:begin (bench/macro/peers.ts) -->',
    '## Peers: Apache httpd + mod_auth_openidc',
    '',
    `\`npm run bench:peers\` on ${date} (load average ${load.join(' ')}): wrk -t1 -c${m.connections}, ${m.seconds} s per scenario,`,
    `${m.rounds} rounds, each scenario once per round; medians. Every proxy pinned to CPU 0, upstream and`,
    "wrk on CPU 1; CPU µs/request is the proxy's process tree (Apache: its parent and its one mpm_event",
    'child with 64 threads). Before measuring, each authenticated scenario is checked to answer 401',
    'without its token and 200 with it. mod_auth_openidc 2.4.12 (`AuthType oauth20`, `Require',
    'valid-user`) verifies the RS256 token against a certificate (`OIDCOAuthVerifyCertFiles`: it fetches',
    'a JWKS over https only and reads only RSA certificates), and checks signature and `exp` – not',
    '`iss` or `aud`, which Gatehouse also checks; `gh-bearer-rs256` sends Gatehouse the same token.',
    '',
    '| scenario | what | req/s | p50 ms | p99 ms | CPU µs/req |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const name of PEER_SCENARIOS) {
    const s = row(name);
    if (s)
      out.push(
        `| ${s.name} | ${s.what} | ${s.rps.toFixed(0)} | ${s.p50_ms.toFixed(2)} | ${s.p99_ms.toFixed(2)} | ${s.cpu_us_per_req.toFixed(1)} |`,
      );
  }
  for (const s of m.skipped) out.push(`| ${s.name} | left out: ${s.why} | | | | |`);
  out.push('', '| ratio (same round, median) | req/s | CPU/req | p99 | |', '|---|---:|---:|---:|---|');
  for (const r of m.ratios) {
    const verdict =
      r.cpu_per_req < 0.85 && r.rps > 1.2
        ? `the first wins (${r.name.split(' / ')[0]})`
        : r.cpu_per_req > 1.2 && r.rps < 0.85
          ? `the second wins (${r.name.split(' / ')[1]})`
          : 'within noise (two equal setups differ by up to 20 % between runs here)';
    out.push(
      `| ${r.name} | ${r.rps.toFixed(3)} | ${r.cpu_per_req.toFixed(3)} | ${r.p99.toFixed(3)} | ${verdict} |`,
    );
  }
  out.push('', 'Per-round figures are in `results/peers.json`.', '<!-- peers:end -->');
  return out.join('\n');
}

if (import.meta.main) {
  const date = new Date().toISOString();
  const load = loadavg().map((x) => Number(x.toFixed(2)));
  const m = await runMacro({
    seconds: Number(process.env.BENCH_SECONDS ?? 4) || 4,
    warmupSeconds: 1,
    rounds: Number(process.env.BENCH_ROUNDS ?? 3) || 3,
    connections: 16,
    only: PEER_SCENARIOS,
  });
  writeFileSync(
    join(ROOT, 'bench/results/peers.json'),
    JSON.stringify({ date, loadavg_at_start: load, ...m }, null, 2),
  );
  const section = peersSection(m, date, load);
  const file = join(ROOT, 'bench/RESULTS.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const marked = /<!-- peers:begin[\s\S]*<!-- peers:end -->/;
  writeFileSync(
    file,
    marked.test(previous) ? previous.replace(marked, section) : `${previous.trimEnd()}\n\n${section}\n`,
  );
  process.stdout.write(`${section}\n`);
}
