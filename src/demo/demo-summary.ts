/**
 * The demo's effective config, compact: one line per route with what its policy asks, the
 * session lifetimes as a person writes them (`8h`, not 28800000), the role map.
 */
import type { Config } from '../config/schema.ts';

/** `28800000` → `8h`, `5400000` → `1h30m`, `1500` → `1.5s`. */
export function readableDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  let rest = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

export function configSummary(config: Config): string[] {
  const width = Math.max(...config.routes.map((r) => r.name.length));
  const pathWidth = Math.max(...config.routes.map((r) => r.match.path.length));
  const routes = config.routes.map((r) => {
    const rule =
      r.policy === 'public'
        ? 'public'
        : r.policy.allow
            .map((a) =>
              Object.entries(a)
                .map(([k, v]) => (v === true ? k : `${k} [${([] as unknown[]).concat(v).join(', ')}]`))
                .join(' + '),
            )
            .join(' or ');
    const auth = r.policy === 'public' ? '' : ` (${r.auth.join(', ')})`;
    return `${r.name.padEnd(width)}  ${r.match.path.padEnd(pathWidth)}  ${rule}${auth}`;
  });
  const lines = routes.map((line, i) => `${i === 0 ? 'Routes  ' : '        '}  ${line}`);
  const s = config.session;
  if (s !== undefined)
    lines.push(
      `Session   idle ${readableDuration(s.idle_timeout)}, at most ${readableDuration(s.max_lifetime)}`,
    );
  const map = Object.entries(config.roles.map)
    .map(([group, roles]) => `${group} → ${([] as string[]).concat(roles).join(', ')}`)
    .join(', ');
  if (map) lines.push(`Roles     ${config.roles.claims.join(', ')}: ${map}`);
  return lines;
}
