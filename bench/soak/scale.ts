/**
 * Scale soak (`npm run bench:soak`): `gatehouse serve` as a child process, fed by wrk holding
 * 1,000 keep-alive connections that cycle through 10,000 distinct sealed sessions and 10,000
 * distinct bearer tokens (no logins: the cookies are sealed with the bench's session secret by
 * Gatehouse's own codec, the tokens signed by a bench JWKS key), while 200 websockets stay open
 * through it to an echo upstream. wrk runs in 5 s slices, so each slice gives a p99; after each
 * slice heap used and the cache hit/miss counters (admin /metrics) are read, and 4 s into each
 * slice (all connections open) RSS and open fds (/proc/PID). The slope after warm-up says whether memory or fds grow; the misses per slice say
 * whether the caches (10,000 entries each, the default) thrash.
 *
 *   node bench/soak/scale.ts             # SOAK_SECONDS=120
 *
 * Writes bench/results/scale-soak.json, bench/results/scale-soak.svg and the "Scale soak" section
 * of bench/RESULTS.md. Every loop is bounded by count and by time.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { parseConfig } from '../../src/config/load.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { createSessionCodec } from '../../src/session/cookie-codec.ts';
import { benchConfigYaml, benchSession, mintToken, startKeyServer } from '../lib/fixtures.ts';
import { runLoad } from '../macro/load.ts';
import { freePort, NODE, ROOT, waitForOk, waitForPort } from '../macro/procs.ts';
import { scaleSection, scaleSvg } from './scale-report.ts';

const SECONDS = Math.min(3600, Number(process.env.SOAK_SECONDS ?? 120) || 120);
const DISTINCT = Number(process.env.SOAK_DISTINCT ?? 10_000) || 10_000;
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 1000) || 1000;
const WEBSOCKETS = Number(process.env.SOAK_WEBSOCKETS ?? 200) || 200;
const SLICE = 5;
const WARMUP = Math.min(30, Math.round(SECONDS / 4));

export interface ScaleSample {
  t: number;
  rps: number;
  p99_ms: number;
  errors: number;
  rss_mb: number;
  heap_used_mb: number;
  fds: number;
  ws_open: number;
  token_misses: number;
  session_misses: number;
  token_hits: number;
  session_hits: number;
}

const metric = (text: string, cache: string, result: string) =>
  Number(
    new RegExp(`^gatehouse_cache_lookups\\{cache="${cache}",result="${result}"\\} (\\S+)`, 'm').exec(
      text,
    )?.[1] ?? 0,
  );

async function main(): Promise<void> {
  const keyServer = await startKeyServer();
  // The upstream: a small answer, and an echo for websockets.
  const upstream = createServer((req, res) => {
    req.resume();
    req.once('end', () =>
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }).end('ok'),
    );
  });
  const wss = new WebSocketServer({ server: upstream });
  wss.on('connection', (ws) => ws.on('message', (d, bin) => ws.send(d, { binary: bin })));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  const [port, adminPort] = [await freePort(), await freePort()];
  const yaml = benchConfigYaml({
    listen: `127.0.0.1:${port}`,
    admin: `127.0.0.1:${adminPort}`,
    upstream: upstreamUrl,
    keyServer,
  });
  const dir = join(ROOT, 'bench/results');
  const tmp = join(process.env.TMPDIR ?? '/tmp', `gatehouse-scale-${process.pid}`);
  const { mkdirSync, rmSync } = await import('node:fs');
  mkdirSync(tmp, { recursive: true });
  const configFile = join(tmp, 'gatehouse.yaml');
  writeFileSync(configFile, yaml);

  // 10,000 sessions sealed by Gatehouse's codec with the bench secret, 10,000 signed tokens.
  const loaded = parseConfig(yaml, 'bench.yaml', { env: {}, readFile: () => '' });
  const codec = createSessionCodec({
    session: loaded.config.session!,
    secure: false,
    cacheSize: 0,
    log: silentLog,
  });
  const lines: string[] = [];
  for (let i = 0; i < DISTINCT; i++) {
    const cookies = await codec.write(benchSession(keyServer.origin));
    lines.push(`cookie: ${cookies.map((c) => c.split(';', 1)[0]).join('; ')}`);
    lines.push(`authorization: Bearer ${await mintToken(keyServer.keys.ES256, { ttlS: 6 * 3600 })}`);
  }
  const credFile = join(tmp, 'credentials.txt');
  writeFileSync(credFile, `${lines.join('\n')}\n`);
  const lua = join(tmp, 'cycle.lua');
  writeFileSync(
    lua,
    `local creds = {}
for line in io.lines("${credFile}") do
  local name, value = line:match("^([^:]+): (.*)$")
  creds[#creds + 1] = { [name] = value }
end
math.randomseed(os.time())
local i = math.random(#creds)
request = function()
  i = i % #creds + 1
  return wrk.format("GET", "/app/x", creds[i])
end
${readFileSync(new URL('../macro/report.lua', import.meta.url), 'utf8')}`,
  );

  const child = spawn(NODE, ['cmd/gatehouse.ts', 'serve', '-c', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192);
  });
  const sockets: WebSocket[] = [];
  try {
    await waitForPort(adminPort);
    await waitForOk(`http://127.0.0.1:${adminPort}/readyz`);
    await waitForPort(port);
    // 200 websockets through Gatehouse, each authenticated by one of the tokens.
    const tokens = lines.filter((l) => l.startsWith('authorization'));
    for (let i = 0; i < WEBSOCKETS; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/app/ws`, {
        headers: { authorization: tokens[i % tokens.length]!.slice('authorization: '.length) },
      });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`websocket ${i} did not open`)), 10_000);
        ws.once('open', () => {
          clearTimeout(timer);
          resolve();
        });
        ws.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      sockets.push(ws);
    }
    const samples: ScaleSample[] = [];
    const started = Date.now();
    const slices = Math.ceil(SECONDS / SLICE);
    for (let s = 0; s < slices && Date.now() - started < (SECONDS + 60) * 1000; s++) {
      // RSS and fds are read 4 s into the slice, while wrk's connections are all open.
      const mid = new Promise<{ rss: number; fds: number }>((resolve) =>
        setTimeout(
          () => {
            const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
            resolve({
              rss: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]) / 1024,
              fds: readdirSync(`/proc/${child.pid}/fd`).length,
            });
          },
          (SLICE - 1) * 1000,
        ),
      );
      const load = await runLoad({
        url: `http://127.0.0.1:${port}/app/x`,
        seconds: SLICE,
        connections: CONNECTIONS,
        script: lua,
      });
      // One echo per websocket per slice: open and answering, or not.
      const echoed = await Promise.all(
        sockets.map(
          (ws) =>
            new Promise<boolean>((resolve) => {
              if (ws.readyState !== WebSocket.OPEN) return resolve(false);
              const timer = setTimeout(() => resolve(false), 5000);
              ws.once('message', () => {
                clearTimeout(timer);
                resolve(true);
              });
              ws.send('ping');
            }),
        ),
      );
      const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const during = await mid;
      samples.push({
        t: Math.round((Date.now() - started) / 1000),
        rps: Math.round(load.rps),
        p99_ms: load.p99_ms,
        errors: load.errors,
        rss_mb: +during.rss.toFixed(1),
        heap_used_mb: +(Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1]) / 1048576).toFixed(
          1,
        ),
        fds: during.fds,
        ws_open: echoed.filter(Boolean).length,
        token_hits: metric(metrics, 'tokens', 'hit'),
        token_misses: metric(metrics, 'tokens', 'miss'),
        session_hits: metric(metrics, 'sessions', 'hit'),
        session_misses: metric(metrics, 'sessions', 'miss'),
      });
      const x = samples.at(-1)!;
      process.stderr.write(
        `t=${x.t}s ${x.rps} req/s p99 ${x.p99_ms} ms errors ${x.errors} rss ${x.rss_mb} MB heap ${x.heap_used_mb} MB fds ${x.fds} ws ${x.ws_open}\n`,
      );
    }
    const result = {
      date: new Date().toISOString(),
      seconds: SECONDS,
      warmup_seconds: WARMUP,
      distinct: DISTINCT,
      connections: CONNECTIONS,
      websockets: WEBSOCKETS,
      cache_size: { tokens: loaded.config.cache.tokens, sessions: loaded.config.cache.sessions },
      samples,
    };
    writeFileSync(join(dir, 'scale-soak.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(dir, 'scale-soak.svg'), scaleSvg(samples, WARMUP));
    const section = scaleSection(result);
    const file = join(ROOT, 'bench/RESULTS.md');
    const previous = readFileSync(file, 'utf8');
    const marked = /<!-- scale-soak:begin[\s\S]*<!-- scale-soak:end -->/;
    writeFileSync(
      file,
      marked.test(previous) ? previous.replace(marked, section) : `${previous.trimEnd()}\n\n${section}\n`,
    );
    process.stdout.write(`${section}\n`);
  } finally {
    for (const ws of sockets) ws.terminate();
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    if (stderr.includes('"level":50') || stderr.includes('error')) process.stderr.write(stderr.slice(-2000));
    for (const c of wss.clients) c.terminate();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
    await keyServer.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
