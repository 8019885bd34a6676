/**
 * issue-19: `session.storage: store` in proxy mode, on the memory store and on a real
 * redis-server shared by two replicas: one small id cookie for a 150-group user, the session in
 * the store; refresh rewrites the record and never the cookie; sign-out ends it; listing and
 * revocation through the admin endpoint and the real CLI (a child process), and a revocation
 * made on A refuses the very next requests on B.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { importJWK, SignJWT } from 'jose';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { RECORD_CACHE_MS } from '../../src/session/store-codec.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { echoedHeaders } from '../helpers/http-get.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { waitFor } from '../helpers/wait.ts';

const GROUPS = Array.from(
  { length: 150 },
  (_, i) => `okta-app-platform-engineering-team-${String(i).padStart(3, '0')}-read-write-access`,
);
const CLI = new URL('../../cmd/gatehouse.ts', import.meta.url).pathname;
const skip = redisMissing();

let redis: TestRedis;
let idp: DevIdp;
let upstream: EchoUpstream;
const started: TestGatehouse[] = [];
let mem: TestGatehouse;
let a: TestGatehouse;
let b: TestGatehouse;
let cookieMode: TestGatehouse;
let c: TestGatehouse;

function config(store: string, extra: { refresh_before?: string; storage?: 'cookie' | 'store' } = {}) {
  return testConfig({
    idp,
    oidc: { scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'] },
    session: {
      storage: extra.storage ?? 'store',
      ...(extra.refresh_before ? { refresh_before: extra.refresh_before } : {}),
    },
    store,
    // 150 long group names and the access token are more identity header bytes than the 16 KiB default.
    identity: { pass_access_token: true, max_header_bytes: 65_536 },
    routes: [
      // Only the 150th group lets in here: the whole group list survives in the record.
      route('team', '/team', upstream.url, {
        auth: ['session'],
        policy: { allow: [{ groups: [GROUPS[149]!] }] },
      }),
      route('app', '/', upstream.url, { auth: ['session'] }),
    ],
  });
}

async function get(gh: TestGatehouse, jar: CookieJar, path = '/app') {
  const url = `${gh.url}${path}`;
  const cookie = jar.header(url);
  const res = await request(url, { headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) } });
  const text = await res.body.text();
  let reason: string | undefined;
  try {
    reason = (JSON.parse(text) as { error?: string }).error;
  } catch {}
  return { status: res.statusCode, setCookie: [res.headers['set-cookie'] ?? []].flat(), text, reason };
}

async function login(gh: TestGatehouse, user: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const result = await loginThroughIdp(`${gh.url}/.gatehouse/start?rd=/app`, user, jar);
  assert.equal(result.status, 200, `login of ${user} through ${gh.url}`);
  return jar;
}

async function admin(gh: TestGatehouse, path: string, body?: unknown) {
  const res = await request(`${gh.adminUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function metric(gh: TestGatehouse, line: RegExp): Promise<number> {
  const text = await (await request(`${gh.adminUrl}/metrics`)).body.text();
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').at(-1)) : 0;
}

/** A back-channel logout token for `sub`, signed with the dev IdP's key. */
async function logoutToken(sub: string): Promise<string> {
  const jwk = idp.keys.find((k) => k.alg === 'RS256')!;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: idp.issuer,
    aud: idp.clientId,
    iat: now,
    exp: now + 120,
    jti: randomUUID(),
    sub,
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
  })
    .setProtectedHeader({ alg: 'RS256', kid: jwk.kid!, typ: 'logout+jwt' })
    .sign(await importJWK(jwk, 'RS256'));
}

/** The real CLI, as a child process (async: the Gatehouses in this process keep serving). */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

before(async () => {
  if (skip) return;
  redis = await startRedis();
  upstream = await startEchoUpstream({ maxHeaderSize: 65_536 });
  const ports = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  idp = await startDevIdp({
    redirectUris: ports.map((p) => `http://127.0.0.1:${p}/.gatehouse/callback`),
    users: { carol: { email: 'carol@example.com', name: 'Carol', groups: GROUPS } },
  });
  const start = async (text: string, port: number) => {
    const gh = await startTestGatehouse(text, { port });
    started.push(gh);
    await gh.ready();
    return gh;
  };
  mem = await start(config('memory'), ports[0]!);
  a = await start(config(redis.url), ports[1]!);
  // Every request on B refreshes (the access token always expires "soon").
  b = await start(config(redis.url, { refresh_before: '2h' }), ports[2]!);
  cookieMode = await start(config(redis.url, { storage: 'cookie' }), ports[3]!);
  c = await start(config(redis.url, { refresh_before: '2h' }), ports[4]!);
});

after(async () => {
  await Promise.all(started.map((gh) => gh.close()));
  await upstream?.close();
  await idp?.close();
  await redis?.close();
});

describe('issue-19: server-side sessions (session.storage: store)', { skip }, () => {
  for (const which of ['memory', 'redis'] as const) {
    it(`${which}: a 150-group user gets one small id cookie; the proxy sees the whole session`, async () => {
      const gh = which === 'memory' ? mem : a;
      const jar = await login(gh, 'carol');
      assert.deepEqual(
        jar.names().filter((n) => n.startsWith('gatehouse')),
        ['gatehouse'],
      );
      const value = jar.get('gatehouse')!;
      assert.ok(value.length < 400, `the cookie is ${value.length} bytes`);
      const res = await get(gh, jar);
      assert.equal(res.status, 200, res.text);
      assert.equal(echoedHeaders(res.text)['x-auth-request-user'], 'carol');
      assert.equal((await get(gh, jar, '/team')).status, 200, 'the 150th group is in the session');
      assert.deepEqual(res.setCookie, [], 'a warm request writes no cookie');
    });

    it(`${which}: sign-out deletes the record; the copied cookie is refused afterwards`, async () => {
      const gh = which === 'memory' ? mem : a;
      const jar = await login(gh, 'carol');
      const copy = new CookieJar();
      copy.set(gh.url, 'gatehouse', jar.get('gatehouse')!);
      const before = (await admin(gh, '/sessions?sub=carol')).body.sessions as unknown[];
      const out = await request(`${gh.url}/.gatehouse/sign_out`, {
        headers: { cookie: jar.header(gh.url)!, 'sec-fetch-site': 'same-origin' },
      });
      await out.body.dump();
      assert.equal(out.statusCode, 302);
      const res = await get(gh, copy);
      assert.equal(res.status, 401);
      assert.ok(['session_revoked', 'session_expired'].includes(String(res.reason)), String(res.reason));
      const afterList = (await admin(gh, '/sessions?sub=carol')).body.sessions as unknown[];
      assert.equal(afterList.length, before.length - 1, 'the signed-out session is no longer listed');
    });
  }

  it('redis: a session made on A works on B; a refresh on B rewrites the record, never the cookie', async () => {
    const jar = await login(a, 'bob');
    const cookie = jar.get('gatehouse');
    const refreshes = await metric(b, /^gatehouse_session_refresh_total\{result="ok"\}/);
    const first = await get(b, jar);
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.setCookie, [], 'the refresh set no cookie');
    assert.ok(
      (await metric(b, /^gatehouse_session_refresh_total\{result="ok"\}/)) > refreshes,
      'B refreshed',
    );
    const token = echoedHeaders(first.text)['x-auth-request-access-token'];
    assert.ok(token, 'the upstream gets the access token');
    // A reads the refreshed record from Redis (once its brief cache of the old one has passed).
    await new Promise((r) => setTimeout(r, RECORD_CACHE_MS + 100));
    const onA = await get(a, jar);
    assert.equal(onA.status, 200);
    assert.equal(
      echoedHeaders(onA.text)['x-auth-request-access-token'],
      token,
      'A sees the refreshed tokens',
    );
    assert.equal(jar.get('gatehouse'), cookie);
  });

  it('redis: B and C refreshing one stored session at once spend its rotating refresh token once', async () => {
    const jar = await login(a, 'bob');
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all([get(b, jar), get(c, jar), get(b, jar), get(c, jar)]);
      for (const res of answers) {
        assert.equal(res.status, 200, `round ${round}: ${res.reason ?? res.text}`);
        assert.deepEqual(res.setCookie, []);
      }
      // Each round starts from the record the last one wrote (past both replicas' brief caches).
      await new Promise((r) => setTimeout(r, RECORD_CACHE_MS + 100));
    }
  });

  it('admin endpoint: lists summaries (no tokens) and revokes on A; B refuses at once', async () => {
    const jar = await login(a, 'alice');
    assert.equal((await get(b, jar)).status, 200); // B now holds the record in its cache
    const listed = await admin(a, '/sessions?sub=alice');
    assert.equal(listed.status, 200);
    const sessions = listed.body.sessions as Array<Record<string, unknown>>;
    assert.ok(sessions.length >= 1);
    assert.deepEqual(
      Object.keys(sessions[0]!).sort(),
      ['createdAt', 'id', 'idp', 'iss', 'lastSeenAt', 'sub'], // the login helper sends no User-Agent
      'a summary, and nothing else (no token)',
    );
    assert.equal(sessions[0]!.sub, 'alice');
    assert.equal(sessions[0]!.idp, 'default');
    assert.ok(!JSON.stringify(listed.body).includes(jar.get('gatehouse')!), 'no cookie in the listing');
    const revoked = await admin(a, '/sessions/revoke', { sub: 'alice' });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.deleted, sessions.length);
    const t0 = Date.now();
    await waitFor(async () => (await get(b, jar)).status === 401, { timeoutMs: 1000, what: 'B to refuse' });
    assert.ok(Date.now() - t0 < RECORD_CACHE_MS, 'refused before B’s record cache would have expired');
    assert.deepEqual((await admin(a, '/sessions?sub=alice')).body.sessions, []);
  });

  it('back-channel logout by sub on B refuses the session on A and deletes its records', async () => {
    const jar = await login(a, 'alice');
    assert.equal((await get(a, jar)).status, 200);
    assert.ok(((await admin(a, '/sessions?sub=alice')).body.sessions as unknown[]).length >= 1);
    const res = await request(`${b.url}/.gatehouse/backchannel_logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: await logoutToken('alice') }).toString(),
    });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    await waitFor(async () => (await get(a, jar)).status === 401, { timeoutMs: 1000, what: 'A to refuse' });
    assert.deepEqual((await admin(a, '/sessions?sub=alice')).body.sessions, [], 'the records are gone');
  });

  it('admin endpoint: refuses bad requests and cross-site callers', async () => {
    assert.equal((await admin(a, '/sessions/revoke', { sub: 'x', id: 'y' })).status, 400);
    assert.equal((await admin(a, '/sessions/revoke', {})).status, 400);
    assert.equal((await admin(a, '/sessions?sub=')).status, 400);
    const form = await request(`${a.adminUrl}/sessions/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'sub=alice',
    });
    assert.equal(form.statusCode, 415);
    await form.body.dump();
    const cross = await request(`${a.adminUrl}/sessions?sub=alice`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(cross.statusCode, 403);
    await cross.body.dump();
    const rebound = await request(`${a.adminUrl}/sessions?sub=alice`, { headers: { host: 'evil.example' } });
    assert.equal(rebound.statusCode, 403);
    await rebound.body.dump();
    const listing = await admin(cookieMode, '/sessions?sub=alice');
    assert.equal(listing.status, 409);
    assert.match(String(listing.body.message), /session\.storage: store/);
  });

  it('CLI: lists and revokes by id through Redis; B refuses at once', async () => {
    const jar = await login(a, 'carol');
    assert.equal((await get(b, jar)).status, 200);
    const list = await cli(['sessions', 'list', '--sub', 'carol', '--json', '-c', a.configFile]);
    assert.equal(list.code, 0, list.err);
    const sessions = (JSON.parse(list.out) as { sessions: Array<{ id: string; userAgent?: string }> })
      .sessions;
    assert.ok(sessions.length >= 1);
    const table = await cli(['sessions', 'list', '--sub', 'carol', '-c', a.configFile]);
    assert.match(table.out, /^ID {2}IDP {2}CREATED/);
    assert.ok(table.out.includes(sessions[0]!.id));
    for (const s of sessions) {
      const revoke = await cli(['sessions', 'revoke', '--id', s.id, '-c', a.configFile]);
      assert.equal(revoke.code, 0, revoke.err);
      assert.match(revoke.out, /^revoked session /);
    }
    await waitFor(async () => (await get(b, jar)).status === 401, { timeoutMs: 1000, what: 'B to refuse' });
    const empty = await cli(['sessions', 'list', '--sub', 'carol', '-c', a.configFile]);
    assert.equal(empty.out, 'no sessions\n');
  });

  it('CLI: says clearly what it cannot do', async () => {
    const memList = await cli(['sessions', 'list', '--sub', 'carol', '-c', mem.configFile]);
    assert.equal(memList.code, 1);
    assert.match(memList.err, /store: memory lives inside the running Gatehouse; use its admin listener/);
    const cookieList = await cli(['sessions', 'list', '--sub', 'carol', '-c', cookieMode.configFile]);
    assert.equal(cookieList.code, 1);
    assert.match(cookieList.err, /listed only with session\.storage: store/);
    const both = await cli(['sessions', 'revoke', '--sub', 'a', '--id', 'b', '-c', a.configFile]);
    assert.equal(both.code, 2);
    const none = await cli(['sessions', 'frobnicate', '-c', a.configFile]);
    assert.equal(none.code, 2);
  });

  it('CLI: with cookie storage, revoke --sub refuses the cookie sessions of that user on every replica', async () => {
    const jar = await login(cookieMode, 'bob');
    assert.equal((await get(cookieMode, jar)).status, 200);
    const revoke = await cli(['sessions', 'revoke', '--sub', 'bob', '-c', cookieMode.configFile]);
    assert.equal(revoke.code, 0, revoke.err);
    await waitFor(async () => (await get(cookieMode, jar)).reason === 'session_revoked', {
      timeoutMs: 1000,
      what: 'the cookie session to be refused',
    });
  });
});
