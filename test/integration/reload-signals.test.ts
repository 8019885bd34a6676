/**
 * Hot reload and shutdown, proven: `reload()` in process and SIGHUP/SIGTERM to a real
 * `gatehouse serve` child. A valid config takes effect, an invalid one is refused with
 * FILE:LINE:COL problems (logged, counted) while the old one keeps serving, in-flight requests
 * finish on the config they started with, a rotated `${file:…}` cookie secret is re-read, and
 * SIGTERM drains an in-flight request before exiting 0.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { silentLog } from '../../src/observe/logger.ts';
import { createSessionCodec } from '../../src/session/cookie-codec.ts';
import type { SessionData } from '../../src/session/session-data.ts';
import { type RouteInput, route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse, waitForReady } from '../helpers/gatehouse.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { waitFor } from '../helpers/wait.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const CLI = new URL('../../cmd/gatehouse.ts', import.meta.url).pathname;
const OLD_SECRET = 'old-cookie-secret-0123456789abcdefghijklmnop';
const NEW_SECRET = 'new-cookie-secret-0123456789abcdefghijklmnop';

let up1: EchoUpstream;
let up2: EchoUpstream;
let gh: TestGatehouse;
let secrets: string;

async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { headers: { accept: 'application/json', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

async function cookieSealedWith(secret: string, extra: Partial<SessionData> = {}): Promise<string> {
  const codec = createSessionCodec({
    session: {
      cookie_name: 'gatehouse',
      secrets: [secret],
      idle_timeout: 3_600_000,
      max_lifetime: 43_200_000,
      storage: 'cookie',
      refresh_before: 60_000,
      max_chunks: 8,
    },
    secure: false,
    cacheSize: 0,
    log: silentLog,
  });
  const now = Math.floor(Date.now() / 1000);
  const session: SessionData = {
    v: 1,
    id: `s-${secret.slice(0, 3)}`,
    // the configured provider's issuer, and no `idp`: a cookie sealed before providers had names
    iss: 'http://127.0.0.1:9/unreachable',
    claims: { sub: 'alice' },
    createdAt: now,
    lastSeenAt: now,
    ...extra,
  };
  const [set] = await codec.write(session);
  return set!.split(';')[0]!;
}

let port: number;

/** The in-process Gatehouse's config; cookie secrets are `${file:…}` references under `secrets`. */
function config(routes: RouteInput[], secretFiles = ['current']): string {
  return testConfig({
    server: { listen: `127.0.0.1:${port}`, public_url: `http://127.0.0.1:${port}` },
    admin: { listen: '127.0.0.1:0' },
    audit: { output: join(secrets, 'audit.log') },
    // Never contacted: sessions here are sealed by the test itself.
    oidc: {
      issuer: 'http://127.0.0.1:9/unreachable',
      client_id: 'gatehouse',
      client_secret: 'not-used-here',
    },
    session: { secrets: secretFiles.map((f) => `\${file:${join(secrets, f)}}`) },
    routes,
  });
}

/** The first config's routes, with the slow one pointing at `slow` (up1 unless told). */
const routesV1 = (slow = up1.url): RouteInput[] => [
  route('slow', '/slow', slow, { policy: 'public' }),
  route('app', '/app', up1.url, { auth: ['session'] }),
];

before(async () => {
  up1 = await startEchoUpstream();
  up2 = await startEchoUpstream();
  secrets = mkdtempSync(join(tmpdir(), 'gatehouse-secrets-'));
  writeFileSync(join(secrets, 'current'), `${OLD_SECRET}\n`);
  port = await freePort();
  gh = await startTestGatehouse(config(routesV1()), { port });
});

after(async () => {
  await gh?.close();
  await up1?.close();
  await up2?.close();
});

describe('reload()', () => {
  it('a valid new config takes effect: a route added, a route re-pointed', async () => {
    assert.equal((await get(gh.url, '/added/x')).status, 404);
    writeFileSync(
      gh.configFile,
      config([...routesV1(up2.url), route('added', '/added', up2.url, { policy: 'public' })]),
    );
    assert.deepEqual(await gh.gh.reload(), { ok: true });
    assert.equal((await get(gh.url, '/added/x')).status, 200);
    await get(gh.url, '/slow/x');
    assert.equal(up2.requests.at(-1)?.url, '/slow/x');
  });

  it('an invalid config is refused with FILE:LINE:COL problems, counted, and the old one keeps serving', async () => {
    writeFileSync(gh.configFile, `${config(routesV1())}\nbogus_key: 1\n`);
    const result = await gh.gh.reload();
    assert.equal(result.ok, false);
    const line = gh.logs().find((l) => l.msg === 'config reload refused; the previous config keeps serving');
    assert.ok(line, 'logged');
    assert.ok(
      (line.problems as string[]).some(
        (p) => p.startsWith(`${gh.configFile}:`) && /:\d+:\d+ bogus_key: /.test(p),
      ),
      JSON.stringify(line.problems),
    );
    const metrics = await (await request(`${gh.adminUrl}/metrics`)).body.text();
    assert.match(metrics, /gatehouse_config_reload_total\{result="error"\} 1/);
    assert.equal((await get(gh.url, '/added/x')).status, 200, 'the previous config still serves');
  });

  it('an in-flight request finishes on the config it started with', async () => {
    writeFileSync(gh.configFile, config(routesV1()));
    assert.ok((await gh.gh.reload()).ok);
    const before1 = up1.requests.length;
    const inflight = get(gh.url, '/slow/__slow?ms=600');
    await waitFor(() => up1.requests.length > before1, {
      timeoutMs: 3000,
      what: 'the slow request upstream',
    });
    // Re-point the route while the request is in flight.
    writeFileSync(gh.configFile, config(routesV1(up2.url)));
    assert.ok((await gh.gh.reload()).ok);
    const done = await inflight;
    assert.equal(done.status, 200);
    assert.equal(done.text, 'slow');
    await get(gh.url, '/slow/after');
    assert.equal(up2.requests.at(-1)?.url, '/slow/after', 'new requests use the new config');
  });

  it('re-reads a rotated file-referenced (file:) cookie secret; the old one still unseals when listed second', async () => {
    const oldCookie = await cookieSealedWith(OLD_SECRET);
    const newCookie = await cookieSealedWith(NEW_SECRET);
    writeFileSync(gh.configFile, config(routesV1()));
    assert.ok((await gh.gh.reload()).ok);
    assert.equal((await get(gh.url, '/app/x', { cookie: oldCookie })).status, 200);
    assert.equal((await get(gh.url, '/app/x', { cookie: newCookie })).status, 401);

    // Rotate in place: the file now holds the new secret; the old one moves to a second file.
    writeFileSync(join(secrets, 'current'), `${NEW_SECRET}\n`);
    writeFileSync(join(secrets, 'previous'), `${OLD_SECRET}\n`);
    writeFileSync(gh.configFile, config(routesV1(), ['current', 'previous']));
    assert.ok((await gh.gh.reload()).ok);
    assert.equal((await get(gh.url, '/app/x', { cookie: newCookie })).status, 200, 'new secret read');
    assert.equal((await get(gh.url, '/app/x', { cookie: oldCookie })).status, 200, 'old still unseals');

    writeFileSync(gh.configFile, config(routesV1()));
    assert.ok((await gh.gh.reload()).ok);
    const refused = await get(gh.url, '/app/x', { cookie: oldCookie });
    assert.equal(refused.status, 401);
    assert.equal((JSON.parse(refused.text) as { error: string }).error, 'session_invalid');
  });

  it('refuses a session whose provider is no longer configured: nobody could refresh or end it', async () => {
    // (the previous test left the new secret in the `current` file)
    const named = await get(gh.url, '/app/x', {
      cookie: await cookieSealedWith(NEW_SECRET, { idp: 'default' }),
    });
    assert.equal(named.status, 200, named.text);
    const gone = await get(gh.url, '/app/x', {
      cookie: await cookieSealedWith(NEW_SECRET, { idp: 'removed' }),
    });
    assert.equal(gone.status, 401);
    assert.equal((JSON.parse(gone.text) as { error: string }).error, 'session_invalid');
    const foreign = await get(gh.url, '/app/x', {
      cookie: await cookieSealedWith(NEW_SECRET, { iss: 'https://another-idp.example' }),
    });
    assert.equal(foreign.status, 401, 'a nameless session of an issuer no provider has');
  });
});

describe('gatehouse serve in a child process', () => {
  let child: ChildProcess | undefined;
  let output = '';
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('SIGHUP reloads (refusing an invalid config), SIGTERM drains an in-flight request and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-serve-'));
    const file = join(dir, 'gatehouse.yaml');
    const [port, adminPort] = [await freePort(), await freePort()];
    const serveConfig = (routes: RouteInput[]) =>
      testConfig({
        server: { listen: `127.0.0.1:${port}`, shutdown_grace: '5s' },
        admin: { listen: `127.0.0.1:${adminPort}` },
        audit: { output: join(dir, 'audit.log') },
        routes,
      });
    const slow = route('slow', '/slow', up1.url, { policy: 'public' });
    const base = serveConfig([slow]);
    writeFileSync(file, base);
    child = spawn(NODE, [CLI, 'serve', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    const admin = `http://127.0.0.1:${adminPort}`;
    await waitForReady(admin, {
      timeoutMs: 15_000,
      gone: () => (child?.exitCode === null ? undefined : `gatehouse serve exited: ${output}`),
    });

    writeFileSync(file, `${base}\nnot_a_key: true\n`);
    child.kill('SIGHUP');
    await waitFor(() => output.includes('config reload refused'), {
      timeoutMs: 5000,
      what: 'refusal logged',
    });
    assert.match(output, new RegExp(`${file.replaceAll('.', '\\.')}:\\d+:\\d+ not_a_key`));
    const metrics = await (await request(`${admin}/metrics`)).body.text();
    assert.match(metrics, /gatehouse_config_reload_total\{result="error"\} 1/);
    assert.equal((await get(url, '/slow/x')).status, 200);

    writeFileSync(file, serveConfig([slow, route('added', '/added', up2.url, { policy: 'public' })]));
    child.kill('SIGHUP');
    await waitFor(async () => (await get(url, '/added/x')).status === 200, {
      timeoutMs: 5000,
      what: 'new route served',
    });

    const before1 = up1.requests.length;
    const inflight = get(url, '/slow/__slow?ms=1000');
    await waitFor(() => up1.requests.length > before1, { timeoutMs: 3000, what: 'in flight upstream' });
    const sentAt = Date.now();
    child.kill('SIGTERM');
    const done = await inflight;
    assert.equal(done.status, 200);
    assert.equal(done.text, 'slow', 'the client got its full response');
    assert.equal(await exited, 0);
    assert.ok(Date.now() - sentAt < 5000, 'exited within the grace period');
  });
});
