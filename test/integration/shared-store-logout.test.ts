/**
 * Replicas sharing a real redis-server: a back-channel logout received by one replica ends the
 * session on another; the logout token is validated strictly; two replicas refreshing one
 * session at once spend its (rotating) refresh token once; a Redis outage fails closed (or open,
 * when configured) and heals by itself.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { createSessionCodec } from '../../src/session/cookie-codec.ts';
import { route, type SessionInput, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { waitFor } from '../helpers/wait.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const skip = redisMissing();

let redis: TestRedis;
let idp: DevIdp;
let upstream: EchoUpstream;
const gatehouses: TestGatehouse[] = [];
let a: TestGatehouse;
let b: TestGatehouse;
let r1: TestGatehouse;
let r2: TestGatehouse;
let open: TestGatehouse;

/** Every replica's config: one IdP, one Redis, the same (default) cookie secret. */
function config(extra: { session?: Partial<SessionInput>; failOpen?: boolean } = {}): string {
  return testConfig({
    idp,
    oidc: { scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'] },
    ...(extra.session ? { session: extra.session } : {}),
    store: redis.url,
    ...(extra.failOpen ? { store_fail_open: true } : {}),
    routes: [
      route('public', '/public', upstream.url, { policy: 'public' }),
      route('app', '/', upstream.url, { auth: ['session'] }),
    ],
  });
}

async function get(gh: TestGatehouse, path: string, jar?: CookieJar) {
  const url = `${gh.url}${path}`;
  const cookie = jar?.header(url);
  const res = await request(url, { headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, reason: reasonOf(text) };
}

function reasonOf(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { error?: string }).error;
  } catch {
    return undefined;
  }
}

async function login(gh: TestGatehouse, user: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const result = await loginThroughIdp(`${gh.url}/.gatehouse/start?rd=/app`, user, jar);
  assert.equal(result.status, 200, `login of ${user} through ${gh.url}`);
  return jar;
}

async function sessionOf(jar: CookieJar, gh: TestGatehouse) {
  const codec = createSessionCodec({
    session: a.gh.current().config.session!,
    secure: false,
    cacheSize: 0,
    log: silentLog,
  });
  const read = await codec.read(jar.header(`${gh.url}/app`));
  assert.ok(read.session, 'the jar holds a session');
  return read.session;
}

async function logoutToken(
  claims: Record<string, unknown>,
  opts: { key?: JWK; typ?: string | null; alg?: string } = {},
): Promise<string> {
  const jwk = opts.key ?? idp.keys.find((k) => k.alg === 'RS256')!;
  const alg = opts.alg ?? (jwk.alg as string);
  const key = await importJWK(jwk, alg);
  const header: Record<string, unknown> = { alg, kid: jwk.kid };
  if (opts.typ !== null) header.typ = opts.typ ?? 'logout+jwt';
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: idp.issuer,
    aud: idp.clientId,
    iat: now,
    exp: now + 120,
    jti: randomUUID(),
    events: { [EVENT]: {} },
    ...claims,
  })
    .setProtectedHeader(header as { alg: string })
    .sign(key);
}

async function postLogout(
  gh: TestGatehouse,
  token: string,
  contentType = 'application/x-www-form-urlencoded',
) {
  const res = await request(`${gh.url}/.gatehouse/backchannel_logout`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, reason: reasonOf(text) };
}

async function metric(gh: TestGatehouse, line: RegExp): Promise<number> {
  const text = await (await request(`${gh.adminUrl}/metrics`)).body.text();
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').at(-1)) : 0;
}

before(async () => {
  if (skip) return;
  redis = await startRedis();
  upstream = await startEchoUpstream();
  const ports = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  idp = await startDevIdp({
    redirectUris: ports.map((p) => `http://127.0.0.1:${p}/.gatehouse/callback`),
    // Registered so the IdP puts `sid` in its ID tokens (backchannel_logout_session_required).
    backchannelLogoutUri: `http://127.0.0.1:${ports[1]}/.gatehouse/backchannel_logout`,
  });
  const start = async (text: string, port: number) => {
    const gh = await startTestGatehouse(text, { port });
    gatehouses.push(gh);
    await gh.ready();
    return gh;
  };
  a = await start(config(), ports[0]!);
  b = await start(config(), ports[1]!);
  // Every request refreshes (the access token always expires "soon"): the double-spend test.
  r1 = await start(config({ session: { refresh_before: '2h' } }), ports[2]!);
  r2 = await start(config({ session: { refresh_before: '2h' } }), ports[3]!);
  open = await start(config({ failOpen: true }), ports[4]!);
});

after(async () => {
  for (const gh of gatehouses) await gh.close();
  await idp?.close();
  await upstream?.close();
  await redis?.close();
});

describe('back-channel logout across replicas', { skip }, () => {
  it('a logout token (by sid) posted to replica B ends the session on replica A', async () => {
    const jar = await login(a, 'alice');
    assert.equal((await get(a, '/app', jar)).status, 200);
    assert.equal((await get(b, '/app', jar)).status, 200, 'replicas share the cookie secret');
    const session = await sessionOf(jar, a);
    assert.ok(session.idpSid, 'the IdP sent a sid in the ID token');

    const out = await postLogout(b, await logoutToken({ sid: session.idpSid, sub: 'alice' }));
    assert.equal(out.status, 200);
    assert.equal(out.headers['cache-control'], 'no-store');

    await waitFor(async () => (await get(a, '/app', jar)).reason === 'session_revoked', {
      timeoutMs: 3000,
      what: 'A refuses',
    });
    assert.equal((await get(b, '/app', jar)).reason, 'session_revoked');
    // The audit line follows the answer: waited for, not read once.
    await a.auditLine((l) => l.reason === 'session_revoked' && l.decision === 'login', {
      what: 'the session_revoked audit line on A',
    });
  });

  it('a logout token with only sub ends every earlier session of that user, not later ones', async () => {
    const first = await login(a, 'bob');
    const second = await login(b, 'bob');
    await new Promise((r) => setTimeout(r, 1100)); // sessions are created in whole seconds
    assert.equal((await postLogout(a, await logoutToken({ sub: 'bob' }))).status, 200);
    await waitFor(async () => (await get(b, '/app', first)).reason === 'session_revoked', {
      timeoutMs: 3000,
      what: 'first',
    });
    await waitFor(async () => (await get(a, '/app', second)).reason === 'session_revoked', {
      timeoutMs: 3000,
      what: 'second',
    });
    await new Promise((r) => setTimeout(r, 1100));
    const later = await login(a, 'bob');
    assert.equal((await get(b, '/app', later)).status, 200, 'a login after the logout is not affected');
  });

  it('refuses a replayed logout token on every replica (jti is shared)', async () => {
    const token = await logoutToken({ sub: 'nobody-1' });
    assert.equal((await postLogout(a, token)).status, 200);
    const again = await postLogout(b, token);
    assert.equal(again.status, 400);
    assert.equal(again.reason, 'logout_token_invalid');
    assert.equal((await postLogout(a, token)).status, 400);
  });

  it('refuses invalid logout tokens with 400 logout_token_invalid, never logging the token', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const { exportJWK } = await import('jose');
    const foreign = { ...(await exportJWK(privateKey)), alg: 'RS256', kid: idp.keys[0]!.kid };
    const now = Math.floor(Date.now() / 1000);
    const bad: Array<[string, string]> = [
      ['foreign signature', await logoutToken({ sub: 'x' }, { key: foreign })],
      ['wrong audience', await logoutToken({ sub: 'x', aud: 'someone-else' })],
      ['wrong issuer', await logoutToken({ sub: 'x', iss: 'http://127.0.0.1:1/' })],
      ['a nonce', await logoutToken({ sub: 'x', nonce: 'n' })],
      ['no events', await logoutToken({ sub: 'x', events: undefined })],
      ['the wrong event', await logoutToken({ sub: 'x', events: { 'urn:other': {} } })],
      ['neither sid nor sub', await logoutToken({})],
      ['no jti', await logoutToken({ sub: 'x', jti: undefined })],
      ['an old iat', await logoutToken({ sub: 'x', iat: now - 3600, exp: now + 60 })],
      ['an iat in the future', await logoutToken({ sub: 'x', iat: now + 3600, exp: now + 7200 })],
      ['expired', await logoutToken({ sub: 'x', iat: now - 100, exp: now - 50 })],
      ['typ of an ID token', await logoutToken({ sub: 'x' }, { typ: 'JWT' })],
      ['not a JWT', 'not-a-jwt'],
    ];
    for (const [why, token] of bad) {
      const out = await postLogout(a, token);
      assert.equal(out.status, 400, why);
      assert.equal(out.reason, 'logout_token_invalid', why);
      assert.equal(out.headers['cache-control'], 'no-store', why);
    }
    assert.equal((await postLogout(a, await logoutToken({ sub: 'x' }), 'application/json')).status, 400);
    const get405 = await request(`${a.url}/.gatehouse/backchannel_logout`);
    await get405.body.dump();
    assert.equal(get405.statusCode, 400);
    // No typ header is fine (the spec makes it optional); this one is valid.
    assert.equal((await postLogout(a, await logoutToken({ sub: 'x' }, { typ: null }))).status, 200);

    const logs = JSON.stringify(a.logs());
    for (const [, token] of bad) if (token.length > 20) assert.ok(!logs.includes(token), 'token not logged');
    assert.ok(
      a.logs().some((l) => l.msg === 'back-channel logout refused' && l.reason === 'logout_token_invalid'),
    );
  });
});

describe('refresh across replicas', { skip }, () => {
  it('two replicas refreshing one session at once spend its rotating refresh token once', async () => {
    const jar = await login(r1, 'alice');
    // The login itself refreshed nothing yet; each request from here on needs a refresh.
    for (let round = 0; round < 3; round++) {
      const before = idp.hits.get('/token') ?? 0;
      const [x, y] = await Promise.all([get(r1, '/app', jar), get(r2, '/app', jar)]);
      assert.equal(x.status, 200, `round ${round}: replica 1 (${x.reason})`);
      assert.equal(y.status, 200, `round ${round}: replica 2 (${y.reason})`);
      assert.equal((idp.hits.get('/token') ?? 0) - before, 1, `round ${round}: one token request`);
      jar.setFrom(`${r1.url}/app`, x.headers['set-cookie']);
    }
    // The grant is still alive: a double spend would have made the IdP revoke it.
    assert.equal((await get(r2, '/app', jar)).status, 200);
  });
});

describe('Redis outage', { skip }, () => {
  it('fails closed with 503 store_unavailable (or open when configured), counts it, and recovers', async () => {
    const jar = await login(a, 'alice');
    assert.equal((await get(a, '/app', jar)).status, 200);
    assert.equal((await get(open, '/app', jar)).status, 200);
    await redis.kill();
    await waitFor(async () => (await get(a, '/app', jar)).status === 503, {
      timeoutMs: 5000,
      what: 'fail closed',
    });
    const refused = await get(a, '/app', jar);
    assert.equal(refused.reason, 'store_unavailable');
    assert.equal(refused.headers['set-cookie'], undefined, 'the cookie is kept for when Redis returns');
    assert.equal((await get(a, '/public/x')).status, 200, 'public routes do not need the store');
    assert.equal((await get(open, '/app', jar)).status, 200, 'store_fail_open keeps serving');
    assert.ok((await metric(a, /^gatehouse_store_errors_total\{op="check"\}/)) > 0);
    const out = await postLogout(b, await logoutToken({ sub: 'nobody-2' }));
    assert.equal(out.status, 503);
    assert.equal(out.reason, 'store_unavailable');

    await redis.restart();
    await waitFor(async () => (await get(a, '/app', jar)).status === 200, {
      timeoutMs: 10_000,
      what: 'recovery',
    });
    assert.ok(a.logs().some((l) => String(l.msg).startsWith('shared store available again')));
  });
});
