/**
 * Soak (issue 10): the real `gatehouse serve` as a child process, on loopback, with a real dev
 * IdP and an upstream, fed a steady mix of traffic for a bounded time – valid sessions, valid
 * bearer tokens, forged tokens with random kids, and full logins – while its heap (admin
 * /metrics), RSS and open file descriptors (/proc/PID) are sampled every second.
 *
 * It passes when memory is flat (the last third's average RSS within SOAK_RSS_GROWTH of the first
 * third's), descriptors do not grow (at most SOAK_FD_SLACK more at the end than at the start),
 * and no request got an answer other than the one expected for its kind.
 *
 *   node bench/soak/soak.ts               # 120 s
 *   SOAK_SECONDS=20 node bench/soak/soak.ts
 *
 * Env: SOAK_SECONDS (120), SOAK_CONCURRENCY (8), SOAK_RSS_GROWTH (0.2), SOAK_FD_SLACK (8),
 * SOAK_WARMUP (seconds left out of the comparison; a quarter of the run, at most 30).
 * Writes bench/results/soak.json and the "Soak" section of bench/RESULTS.md; exits 1 on failure.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { startDevIdp } from '../../src/demo/dev-idp.ts';
import { CookieJar } from '../../test/helpers/cookie-jar.ts';
import { freePort } from '../../test/helpers/gatehouse.ts';
import { loginThroughIdp } from '../../test/helpers/login-flow.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE = join(ROOT, 'node_modules/.bin/node');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 120);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 8);
const RSS_GROWTH = Number(process.env.SOAK_RSS_GROWTH ?? 0.2);
const FD_SLACK = Number(process.env.SOAK_FD_SLACK ?? 8);
/** seconds of warm-up (JIT, heap sizing, connection pools) left out of the comparison */
const WARMUP = Number(process.env.SOAK_WARMUP ?? Math.min(30, Math.round(SECONDS / 4)));

type Kind = 'session' | 'bearer' | 'forged' | 'login' | 'public';
const EXPECTED: Record<Kind, number> = { session: 200, bearer: 200, forged: 401, login: 200, public: 200 };

interface Sample {
  t: number;
  rss_mb: number;
  heap_used_mb: number;
  fds: number;
  requests: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  // upstream: a tiny answer, drains bodies
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  const port = await freePort();
  const adminPort = await freePort();
  const idp = await startDevIdp({ redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`] });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-'));
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(
    config,
    `
server:
  listen: 127.0.0.1:${port}
  public_url: http://127.0.0.1:${port}
admin:
  listen: 127.0.0.1:${adminPort}
log:
  level: warn
oidc:
  issuer: ${idp.issuer}
  client_id: ${idp.clientId}
  client_secret: ${idp.clientSecret}
  scopes: [openid, profile, email, groups]
session:
  secrets: [${randomBytes(32).toString('base64url')}]
bearer:
  - issuer: ${idp.issuer}
    audiences: ["${idp.resource}"]
    algorithms: [ES256, RS256]
audit:
  output: ${join(dir, 'audit.log')}
routes:
  - name: public
    match: { path: /public }
    upstream: ${upstreamUrl}
    policy: public
  - name: app
    match: { path: / }
    upstream: ${upstreamUrl}
    auth: [session, bearer]
    policy: { allow: [ { authenticated: true } ] }
`,
  );
  const child = spawn(NODE, [join(ROOT, 'cmd/gatehouse.ts'), 'serve', '-c', config], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192);
  });
  const base = `http://127.0.0.1:${port}`;
  const admin = `http://127.0.0.1:${adminPort}`;
  const dispatcher = new Agent({ connections: CONCURRENCY * 2 });

  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await dispatcher.close();
    await idp.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  };

  try {
    for (let i = 0; ; i++) {
      if (i > 200) throw new Error(`gatehouse did not become ready:\n${stderr}`);
      const ready = await request(`${admin}/readyz`).then(
        async (r) => {
          await r.body.text();
          return r.statusCode === 200;
        },
        () => false,
      );
      if (ready) break;
      await sleep(100);
    }

    // credentials reused by the steady traffic
    const jar = new CookieJar();
    const login = await loginThroughIdp(`${base}/.gatehouse/start?rd=/hello`, 'alice', jar);
    if (login.status !== 200) throw new Error(`initial login failed: ${login.status}`);
    const sessionCookie = jar.header(new URL(`${base}/hello`))!;
    const machineToken = async () => {
      const basic = Buffer.from(`${idp.machineClient.id}:${idp.machineClient.secret}`).toString('base64');
      const res = await request(`${idp.issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=client_credentials&resource=${encodeURIComponent(idp.resource)}&scope=api%3Aread`,
      });
      return ((await res.body.json()) as { access_token: string }).access_token;
    };
    const bearer = await machineToken();
    const forgeKey = await generateKeyPair('ES256');
    const forged = () =>
      new SignJWT({ sub: 'mallory' })
        .setProtectedHeader({ alg: 'ES256', kid: randomBytes(8).toString('hex'), typ: 'at+jwt' })
        .setIssuer(idp.issuer)
        .setAudience(idp.resource)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(forgeKey.privateKey);

    const counts: Record<Kind, Record<string, number>> = {
      session: {},
      bearer: {},
      forged: {},
      login: {},
      public: {},
    };
    let total = 0;
    let unexpected = 0;
    const unexpectedExamples: string[] = [];
    const deadline = Date.now() + SECONDS * 1000;

    async function one(kind: Kind): Promise<void> {
      let status: number;
      try {
        if (kind === 'login') {
          const r = await loginThroughIdp(`${base}/.gatehouse/start?rd=/after`, 'bob', new CookieJar());
          status = r.status;
        } else {
          const headers: Record<string, string> = { accept: 'application/json' };
          if (kind === 'session') headers.cookie = sessionCookie;
          if (kind === 'bearer') headers.authorization = `Bearer ${bearer}`;
          if (kind === 'forged') headers.authorization = `Bearer ${await forged()}`;
          const res = await request(`${base}/${kind === 'public' ? 'public/x' : `api/${kind}`}`, {
            headers,
            dispatcher,
          });
          await res.body.text();
          status = res.statusCode;
        }
      } catch (err) {
        status = 0;
        if (unexpectedExamples.length < 5) unexpectedExamples.push(`${kind}: ${(err as Error).message}`);
      }
      total++;
      counts[kind][status] = (counts[kind][status] ?? 0) + 1;
      if (status !== EXPECTED[kind]) {
        unexpected++;
        if (unexpectedExamples.length < 5) unexpectedExamples.push(`${kind}: ${status}`);
      }
    }

    const pick = (n: number): Kind => {
      if (n % 100 === 0) return 'login'; // 1 %: a full login through the IdP
      const r = n % 10;
      return r < 4 ? 'session' : r < 7 ? 'bearer' : r < 9 ? 'forged' : 'public';
    };
    let n = 0;
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) await one(pick(n++));
    });

    const samples: Sample[] = [];
    const started = Date.now();
    const sampler = (async () => {
      while (Date.now() < deadline) {
        await sleep(1000);
        const metrics = await request(`${admin}/metrics`, { dispatcher }).then((r) => r.body.text());
        const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? Number.NaN);
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
        samples.push({
          t: Math.round((Date.now() - started) / 1000),
          rss_mb: +(rssKb / 1024).toFixed(1),
          heap_used_mb: +(heap / 1048576).toFixed(1),
          fds: readdirSync(`/proc/${child.pid}/fd`).length,
          requests: total,
        });
      }
    })();
    await Promise.all([...workers, sampler]);

    const steady = samples.filter((s) => s.t > WARMUP);
    const third = Math.max(1, Math.floor(steady.length / 3));
    const avg = (xs: Sample[], k: 'rss_mb' | 'heap_used_mb') => xs.reduce((a, s) => a + s[k], 0) / xs.length;
    const first = steady.slice(0, third);
    const last = steady.slice(-third);
    const rssFirst = avg(first, 'rss_mb');
    const rssLast = avg(last, 'rss_mb');
    const heapFirst = avg(first, 'heap_used_mb');
    const heapLast = avg(last, 'heap_used_mb');
    const fdStart = steady[0]?.fds ?? 0;
    const fdEnd = samples.at(-1)?.fds ?? 0;
    const fdMax = Math.max(...samples.map((s) => s.fds));
    const checks = {
      rss_flat: rssLast <= rssFirst * (1 + RSS_GROWTH),
      fds_flat: fdEnd <= fdStart + FD_SLACK,
      only_expected_answers: unexpected === 0,
      alive: child.exitCode === null,
    };
    const ok = Object.values(checks).every(Boolean);
    const result = {
      date: new Date().toISOString(),
      seconds: SECONDS,
      warmup_seconds: WARMUP,
      concurrency: CONCURRENCY,
      requests: total,
      req_per_s: Math.round(total / SECONDS),
      counts,
      unexpected,
      unexpected_examples: unexpectedExamples,
      rss_mb: {
        first_third: +rssFirst.toFixed(1),
        last_third: +rssLast.toFixed(1),
        limit_growth: RSS_GROWTH,
      },
      heap_used_mb: { first_third: +heapFirst.toFixed(1), last_third: +heapLast.toFixed(1) },
      fds: { start: fdStart, end: fdEnd, max: fdMax, slack: FD_SLACK },
      checks,
      ok,
      samples,
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/soak.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeResultsSection(result);
    console.log(section(result));
    if (!ok) console.error(`soak FAILED: ${JSON.stringify(checks)}\n${unexpectedExamples.join('\n')}`);
    return ok ? 0 : 1;
  } finally {
    await stop();
  }
}

type Result = {
  date: string;
  seconds: number;
  warmup_seconds: number;
  concurrency: number;
  requests: number;
  req_per_s: number;
  counts: Record<Kind, Record<string, number>>;
  unexpected: number;
  rss_mb: { first_third: number; last_third: number; limit_growth: number };
  heap_used_mb: { first_third: number; last_third: number };
  fds: { start: number; end: number; max: number; slack: number };
  checks: Record<string, boolean>;
  ok: boolean;
};

function section(r: Result): string {
  const mark = (b: boolean) => (b ? 'met' : '**not met**');
  const mix = (Object.keys(r.counts) as Kind[])
    .map(
      (k) =>
        `${k} ${Object.entries(r.counts[k])
          .map(([s, c]) => `${c}×${s}`)
          .join(' ')}`,
    )
    .join('; ');
  return [
    '## Soak',
    '',
    `\`bench/soak/soak.ts\` on ${r.date}: ${r.seconds} s, ${r.concurrency} concurrent clients, ${r.requests} requests (${r.req_per_s}/s) against \`gatehouse serve\` as a child process.`,
    `Mix (kind count×status): ${mix}.`,
    '',
    `After ${r.warmup_seconds} s of warm-up, the first third of the run is compared with the last.`,
    '',
    '| check | first third | last third / end | limit | |',
    '|---|---:|---:|---:|---|',
    `| RSS (MB, average) | ${r.rss_mb.first_third} | ${r.rss_mb.last_third} | +${r.rss_mb.limit_growth * 100} % | ${mark(r.checks.rss_flat!)} |`,
    `| heap used (MB, average) | ${r.heap_used_mb.first_third} | ${r.heap_used_mb.last_third} | – | |`,
    `| open fds | ${r.fds.start} | ${r.fds.end} (max ${r.fds.max}) | +${r.fds.slack} | ${mark(r.checks.fds_flat!)} |`,
    `| unexpected answers | – | ${r.unexpected} | 0 | ${mark(r.checks.only_expected_answers!)} |`,
    '',
    'Samples each second are in `results/soak.json`.',
    '',
  ].join('\n');
}

/** Replace (or append) the Soak section of bench/RESULTS.md; the rest of the file is not ours. */
function writeResultsSection(r: Result): void {
  const file = join(ROOT, 'bench/RESULTS.md');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {}
  const begin = '<!-- soak:begin (bench/soak/soak.ts) -->';
  const end = '<!-- soak:end -->';
  const block = `${begin}\n${section(r)}${end}\n`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  text =
    i !== -1 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length + 1)
      : `${text.replace(/\n*$/, '\n\n')}${block}`;
  writeFileSync(file, text);
}

process.exitCode = await main();
