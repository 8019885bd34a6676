/**
 * End to end on 127.0.0.1: every scenario drives one server with a bounded load run and reads
 * the CPU the server process (and its children) used. The proxy under test is pinned to CPU 0,
 * the upstream and the load generator to CPU 1, so "CPU µs per request" is the proxy's alone and
 * throughput is what one core of proxy gives. The worker scenarios are not pinned (they exist to
 * use both cores). Each round runs every scenario once; ratios are taken within a round (same
 * minutes, same neighbours) and the median over rounds is reported.
 *
 * Run alone: node_modules/.bin/node bench/macro/macro.ts [seconds] [rounds]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Check, check } from '../lib/check.ts';
import {
  AUDIENCE,
  BEARER_ISSUER,
  benchConfigYaml,
  type KeyServer,
  mintToken,
  sessionCookieHeader,
  startKeyServer,
} from '../lib/fixtures.ts';
import { APACHE, apacheConfig } from './apache.ts';
import { type LoadResult, runLoad } from './load.ts';
import { NGINX, nginxConfig } from './nginx.ts';
import { cpuMicros, freePort, NODE, type Proc, start, waitForOk, waitForPort } from './procs.ts';

export type ServerName =
  | 'upstream'
  | 'bare'
  | 'bare-fwd'
  | 'gatehouse'
  | 'gatehouse-cold'
  | 'gatehouse-unix'
  | 'min-auth'
  | 'nginx'
  | 'apache'
  | 'gh-w1'
  | 'gh-w2';

export interface Scenario {
  name: string;
  what: string;
  server: ServerName;
  /** port key to send load to (nginx has three) */
  port?: 'nginx-auth' | 'nginx-auth-unix' | 'nginx-min-auth' | 'apache-oidc';
  path: string;
  /** `bearer`: the ES256 token; `bearer-rs256`: the RS256 one (what mod_auth_openidc can verify) */
  auth?: 'bearer' | 'bearer-rs256' | 'session';
  /** processes whose CPU counts for this scenario */
  cpuOf: ServerName[];
}

export const SCENARIOS: Scenario[] = [
  { name: 'direct', what: 'upstream, no proxy', server: 'upstream', path: '/x', cpuOf: ['upstream'] },
  { name: 'bare-proxy', what: 'bare http-proxy-3', server: 'bare', path: '/app/x', cpuOf: ['bare'] },
  {
    name: 'bare-proxy-fwd',
    what: 'bare http-proxy-3 with X-Forwarded-* and a response timeout',
    server: 'bare-fwd',
    path: '/app/x',
    cpuOf: ['bare-fwd'],
  },
  {
    name: 'gh-public',
    what: 'Gatehouse, public route',
    server: 'gatehouse',
    path: '/public/x',
    cpuOf: ['gatehouse'],
  },
  {
    name: 'gh-session',
    what: 'Gatehouse, warm session cookie',
    server: 'gatehouse',
    path: '/app/x',
    auth: 'session',
    cpuOf: ['gatehouse'],
  },
  {
    name: 'gh-bearer',
    what: 'Gatehouse, warm bearer (ES256)',
    server: 'gatehouse',
    path: '/app/x',
    auth: 'bearer',
    cpuOf: ['gatehouse'],
  },
  {
    name: 'gh-bearer-cold',
    what: 'Gatehouse, cold bearer (cache.tokens: 0)',
    server: 'gatehouse-cold',
    path: '/app/x',
    auth: 'bearer',
    cpuOf: ['gatehouse-cold'],
  },
  { name: 'nginx', what: 'nginx alone (proxy_pass)', server: 'nginx', path: '/app/x', cpuOf: ['nginx'] },
  {
    name: 'nginx+gh-auth',
    what: 'nginx + Gatehouse auth_request, warm bearer',
    server: 'nginx',
    port: 'nginx-auth',
    path: '/app/x',
    auth: 'bearer',
    cpuOf: ['nginx', 'gatehouse'],
  },
  {
    name: 'nginx+gh-auth-unix',
    what: 'nginx + Gatehouse auth_request over a unix socket, warm bearer',
    server: 'nginx',
    port: 'nginx-auth-unix',
    path: '/app/x',
    auth: 'bearer',
    cpuOf: ['nginx', 'gatehouse-unix'],
  },
  {
    name: 'nginx+min-auth',
    what: 'nginx + minimal Node auth_request endpoint (reference)',
    server: 'nginx',
    port: 'nginx-min-auth',
    path: '/app/x',
    auth: 'bearer',
    cpuOf: ['nginx', 'min-auth'],
  },
  {
    name: 'gh-bearer-rs256',
    what: 'Gatehouse, warm bearer (RS256, the token Apache verifies)',
    server: 'gatehouse',
    path: '/app/x',
    auth: 'bearer-rs256',
    cpuOf: ['gatehouse'],
  },
  {
    name: 'apache',
    what: 'Apache httpd alone (mod_proxy_http)',
    server: 'apache',
    path: '/app/x',
    cpuOf: ['apache'],
  },
  {
    name: 'apache+oidc-bearer',
    what: 'Apache + mod_auth_openidc, bearer JWT (RS256) verified in-process',
    server: 'apache',
    port: 'apache-oidc',
    path: '/app/x',
    auth: 'bearer-rs256',
    cpuOf: ['apache'],
  },
  {
    name: 'gh-w1',
    what: 'Gatehouse workers: 1, warm bearer, unpinned',
    server: 'gh-w1',
    path: '/app/x',
    auth: 'bearer',
    cpuOf: ['gh-w1'],
  },
  {
    name: 'gh-w2',
    what: 'Gatehouse workers: 2, warm bearer, unpinned',
    server: 'gh-w2',
    path: '/app/x',
    auth: 'bearer',
    cpuOf: ['gh-w2'],
  },
];

/** Ratios reported: scenario over its reference, same round (named `scenario / reference`). */
export const RATIOS = (
  [
    ['gh-public', 'bare-proxy'],
    ['gh-session', 'bare-proxy'],
    ['gh-bearer', 'bare-proxy'],
    ['gh-bearer-cold', 'bare-proxy'],
    ['gh-public', 'bare-proxy-fwd'],
    ['gh-session', 'bare-proxy-fwd'],
    ['gh-bearer', 'bare-proxy-fwd'],
    ['bare-proxy', 'nginx'],
    ['gh-bearer', 'nginx'],
    ['nginx+gh-auth', 'nginx'],
    ['nginx+min-auth', 'nginx'],
    ['nginx+gh-auth', 'nginx+min-auth'],
    ['nginx+gh-auth-unix', 'nginx+gh-auth'],
    ['gh-w2', 'gh-w1'],
    ['apache', 'nginx'],
    ['apache', 'bare-proxy'],
    ['apache+oidc-bearer', 'apache'],
    ['gh-bearer-rs256', 'apache+oidc-bearer'],
    ['gh-bearer-rs256', 'gh-bearer'],
  ] as const
).map(([scenario, reference]) => ({ name: `${scenario} / ${reference}`, scenario, reference }));

/**
 * The guarded macro ratios: these scenarios over bare-proxy, same round. `target` is the goal
 * (reported: at least bare http-proxy-3's throughput, at no more CPU); `limit` fails the guard – above where the implementation measures, with room
 * for noise, so a regression of about a fifth in proxy CPU, or a lost cache, is caught.
 */
export const MACRO_GUARDED = ['gh-session', 'gh-bearer'] as const;
const MACRO_TARGET = { minRps: 1.0, maxCpu: 1.0 };
// Forwarding through undici measured 1.4–2.3× bare http-proxy-3's throughput at 0.44–0.75× its
// CPU; the http-proxy-3 path it replaced measured 0.73–0.79 and 1.27–1.38. Falling back to that
// crosses these limits.
const MACRO_LIMIT = { minRps: 0.85, maxCpu: 1.2 };

/** Throughput and CPU-per-request checks of the guarded ratios (missing ones never pass). */
export function macroChecks(ratios: readonly RatioResult[]): Check[] {
  return MACRO_GUARDED.flatMap((scenario) => {
    const name = `${scenario} / bare-proxy`;
    const r = ratios.find((x) => x.name === name);
    return [
      check(`${name} throughput`, r?.rps ?? null, '≥', MACRO_LIMIT.minRps, MACRO_TARGET.minRps),
      check(`${name} CPU per request`, r?.cpu_per_req ?? null, '≤', MACRO_LIMIT.maxCpu, MACRO_TARGET.maxCpu),
    ];
  });
}

export interface ScenarioRun extends LoadResult {
  /** CPU µs per request of the scenario's server processes */
  cpu_us_per_req: number;
}

export interface ScenarioResult extends ScenarioRun {
  name: string;
  what: string;
  rounds: ScenarioRun[];
}

export interface RatioResult {
  name: string;
  /** medians over rounds of the per-round ratios */
  rps: number;
  cpu_per_req: number;
  p99: number;
}

export interface MacroResult {
  seconds: number;
  rounds: number;
  connections: number;
  scenarios: ScenarioResult[];
  ratios: RatioResult[];
  skipped: { name: string; why: string }[];
}

export interface MacroOptions {
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  connections: number;
  /** scenario names to run (default: all) */
  only?: string[];
  log?: (line: string) => void;
}

const PROXY_CPU = '0';
const OTHER_CPU = '1';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function runMacro(opts: MacroOptions): Promise<MacroResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const wanted = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.name));
  const skipped: { name: string; why: string }[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const procs = new Map<ServerName, Proc>();
  const ports = new Map<string, number>();
  const keyServer = await startKeyServer();
  const failedCheck = new Set<string>();
  try {
    const needed = new Set(wanted.flatMap((s) => [s.server, ...s.cpuOf]));
    needed.add('upstream');
    if (needed.has('nginx')) needed.add('gatehouse'); // nginx's config always has the TCP auth server
    if (!NGINX && needed.has('nginx')) {
      for (const s of wanted.filter((x) => x.server === 'nginx'))
        skipped.push({ name: s.name, why: 'no nginx' });
      needed.delete('nginx');
    }
    if (!APACHE && needed.has('apache')) {
      for (const s of wanted.filter((x) => x.server === 'apache'))
        skipped.push({ name: s.name, why: 'no apache2' });
      needed.delete('apache');
    }
    await startServers(needed, { dir, procs, ports, keyServer });
    const token = await mintToken(keyServer.keys.ES256, { ttlS: 6 * 3600 });
    const rs256 = await mintToken(keyServer.keys.RS256, { ttlS: 6 * 3600 });
    const cookie = await sessionCookieHeader(keyServer.origin);
    const headersFor = (s: Scenario): Record<string, string> =>
      s.auth === 'bearer'
        ? { authorization: `Bearer ${token}` }
        : s.auth === 'bearer-rs256'
          ? { authorization: `Bearer ${rs256}` }
          : s.auth === 'session'
            ? { cookie: `theme=dark; ${cookie}` }
            : {};

    // An authenticated scenario must refuse a request without its credential before it is
    // measured: a proxy that answers 200 to everyone would otherwise look fast.
    for (const s of wanted.filter((x) => x.auth !== undefined && procs.has(x.server))) {
      const url = `http://127.0.0.1:${ports.get(s.port ?? s.server)}${s.path}`;
      const [without, withIt] = [await fetch(url), await fetch(url, { headers: headersFor(s) })];
      await Promise.all([without.body?.cancel(), withIt.body?.cancel()]);
      if (without.status === 200 || withIt.status !== 200) {
        const why = `without the credential ${without.status}, with it ${withIt.status}`;
        log(`  ${s.name}: left out: ${why}`);
        skipped.push({ name: s.name, why });
        failedCheck.add(s.name);
      }
    }
    const runnable = wanted.filter((s) => procs.has(s.server) && !failedCheck.has(s.name));
    const runs = new Map<string, ScenarioRun[]>(runnable.map((s) => [s.name, []]));
    const failed = new Set<string>();
    for (let round = 1; round <= opts.rounds; round++) {
      for (const s of runnable) {
        if (failed.has(s.name)) continue;
        const port = ports.get(s.port ?? s.server)!;
        const url = `http://127.0.0.1:${port}${s.path}`;
        const base = { url, headers: headersFor(s), connections: opts.connections, cpus: OTHER_CPU };
        if (opts.warmupSeconds > 0) await runLoad({ ...base, seconds: opts.warmupSeconds });
        const pids = s.cpuOf.map((n) => procs.get(n)!.pid);
        const cpu0 = pids.reduce((a, p) => a + cpuMicros(p), 0);
        const load = await runLoad({ ...base, seconds: opts.seconds });
        const cpu1 = pids.reduce((a, p) => a + cpuMicros(p), 0);
        if (load.errors > 0 || load.requests === 0) {
          // A scenario that is not answered 2xx measures nothing: report it, never average it in.
          const why = `${load.errors} errors (non-2xx or socket) in ${load.requests} requests`;
          log(`  round ${round} ${s.name}: left out: ${why}`);
          skipped.push({ name: s.name, why });
          failed.add(s.name);
          runs.delete(s.name);
          continue;
        }
        const run: ScenarioRun = { ...load, cpu_us_per_req: (cpu1 - cpu0) / load.requests };
        runs.get(s.name)!.push(run);
        log(
          `  round ${round} ${s.name.padEnd(18)} ${run.rps.toFixed(0).padStart(6)} req/s  p50 ${run.p50_ms.toFixed(2)} ms  p99 ${run.p99_ms.toFixed(2)} ms  ${run.cpu_us_per_req.toFixed(0)} µs CPU/req`,
        );
      }
    }

    const scenarios: ScenarioResult[] = runnable
      .filter((s) => runs.has(s.name))
      .map((s) => {
        const rs = runs.get(s.name)!;
        return {
          name: s.name,
          what: s.what,
          requests: median(rs.map((r) => r.requests)),
          rps: median(rs.map((r) => r.rps)),
          p50_ms: median(rs.map((r) => r.p50_ms)),
          p99_ms: median(rs.map((r) => r.p99_ms)),
          errors: rs.reduce((a, r) => a + r.errors, 0),
          cpu_us_per_req: median(rs.map((r) => r.cpu_us_per_req)),
          rounds: rs,
        };
      });
    const ratios: RatioResult[] = [];
    for (const r of RATIOS) {
      const a = runs.get(r.scenario);
      const b = runs.get(r.reference);
      if (!a || !b) continue;
      const per = (f: (x: ScenarioRun) => number) => median(a.map((x, i) => f(x) / f(b[i]!)));
      ratios.push({
        name: r.name,
        rps: per((x) => x.rps),
        cpu_per_req: per((x) => x.cpu_us_per_req),
        p99: per((x) => x.p99_ms),
      });
    }
    return {
      seconds: opts.seconds,
      rounds: opts.rounds,
      connections: opts.connections,
      scenarios,
      ratios,
      skipped,
    };
  } finally {
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await keyServer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startServers(
  needed: Set<ServerName>,
  ctx: { dir: string; procs: Map<ServerName, Proc>; ports: Map<string, number>; keyServer: KeyServer },
): Promise<void> {
  const { dir, procs, ports, keyServer } = ctx;
  const upstreamPort = await freePort();
  ports.set('upstream', upstreamPort);
  const up = start(NODE, ['bench/macro/upstream.ts'], {
    env: { PORT: String(upstreamPort) },
    cpus: OTHER_CPU,
  });
  procs.set('upstream', up);
  await waitForPort(upstreamPort, up);
  const upstream = `http://127.0.0.1:${upstreamPort}`;

  for (const [name, forwarded] of [
    ['bare', '0'],
    ['bare-fwd', '1'],
  ] as const) {
    if (!needed.has(name)) continue;
    const port = await freePort();
    ports.set(name, port);
    const p = start(NODE, ['bench/macro/bare-proxy.ts'], {
      env: { PORT: String(port), UPSTREAM: upstream, FORWARDED: forwarded },
      cpus: PROXY_CPU,
    });
    procs.set(name, p);
    await waitForPort(port, p);
  }
  const gatehouses: [ServerName, { tokenCache?: number; workers?: number; cpus?: string }][] = [
    ['gatehouse', { cpus: PROXY_CPU }],
    ['gatehouse-cold', { tokenCache: 0, cpus: PROXY_CPU }],
    ['gh-w1', { workers: 1 }],
    ['gh-w2', { workers: 2 }],
  ];
  for (const [name, o] of gatehouses) {
    if (!needed.has(name)) continue;
    const port = await freePort();
    const admin = await freePort();
    ports.set(name, port);
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      benchConfigYaml({
        listen: `127.0.0.1:${port}`,
        admin: `127.0.0.1:${admin}`,
        upstream,
        keyServer,
        tokenCache: o.tokenCache,
        workers: o.workers,
      }),
    );
    const p = start(NODE, ['cmd/gatehouse.ts', 'serve', '-c', file], { cpus: o.cpus });
    procs.set(name, p);
    await waitForPort(admin, p);
    await waitForOk(`http://127.0.0.1:${admin}/readyz`);
    await waitForPort(port, p);
  }
  // The same Gatehouse on a unix socket, its peer (nginx) trusted as `unix`.
  let socket: string | undefined;
  if (needed.has('gatehouse-unix')) {
    socket = join(dir, 'gh.sock');
    const admin = await freePort();
    const file = join(dir, 'gatehouse-unix.yaml');
    const yaml = benchConfigYaml({ listen: '127.0.0.1:0', admin: `127.0.0.1:${admin}`, upstream, keyServer });
    writeFileSync(
      file,
      yaml
        .replace('  listen: 127.0.0.1:0\n', `  listen: unix:${socket}\n  socket_mode: "0666"\n`)
        .replace('trusted_proxies: [127.0.0.1/32]', 'trusted_proxies: [unix]'),
    );
    const p = start(NODE, ['cmd/gatehouse.ts', 'serve', '-c', file], { cpus: PROXY_CPU });
    procs.set('gatehouse-unix', p);
    await waitForPort(admin, p);
    await waitForOk(`http://127.0.0.1:${admin}/readyz`);
  }
  if (needed.has('nginx') && NGINX) {
    const minimal = await freePort();
    const m = start(NODE, ['bench/macro/minimal-auth.ts'], {
      env: {
        PORT: String(minimal),
        JWKS: keyServer.jwksUri,
        ISSUER: BEARER_ISSUER,
        AUDIENCE,
      },
      cpus: PROXY_CPU,
    });
    procs.set('min-auth', m);
    await waitForPort(minimal, m);
    const [alone, auth, minAuth] = [await freePort(), await freePort(), await freePort()];
    const authUnix = socket === undefined ? undefined : await freePort();
    ports.set('nginx', alone);
    ports.set('nginx-auth', auth);
    ports.set('nginx-min-auth', minAuth);
    if (authUnix !== undefined) ports.set('nginx-auth-unix', authUnix);
    const gatehouse = ports.get('gatehouse');
    if (gatehouse === undefined) throw new Error('nginx+gh-auth needs the gatehouse server');
    const conf = nginxConfig(join(dir, 'nginx'), {
      alone,
      auth,
      minAuth,
      upstream: upstreamPort,
      gatehouse,
      minimal,
      ...(authUnix !== undefined && socket !== undefined ? { unix: { port: authUnix, socket } } : {}),
    });
    const p = start(NGINX, ['-p', join(dir, 'nginx'), '-c', conf], { cpus: PROXY_CPU });
    procs.set('nginx', p);
    for (const port of [alone, auth, minAuth, authUnix]) if (port !== undefined) await waitForPort(port, p);
  }
  if (needed.has('apache') && APACHE) {
    const [alone, oidc] = [await freePort(), await freePort()];
    ports.set('apache', alone);
    ports.set('apache-oidc', oidc);
    const conf = apacheConfig(join(dir, 'apache'), {
      alone,
      oidc,
      upstream: upstreamPort,
      key: keyServer.keys.RS256,
    });
    const p = start(APACHE, ['-f', conf, '-DFOREGROUND'], { cpus: PROXY_CPU });
    procs.set('apache', p);
    for (const port of [alone, oidc]) await waitForPort(port, p);
  }
}

if (import.meta.main) {
  const seconds = Number(process.argv[2] ?? 5);
  const rounds = Number(process.argv[3] ?? 1);
  const result = await runMacro({ seconds, warmupSeconds: 1, rounds, connections: 16 });
  process.stdout.write(`${JSON.stringify(result.ratios, null, 2)}\n`);
}
