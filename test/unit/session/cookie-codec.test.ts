import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/config/schema.ts';
import { silentLog } from '../../../src/observe/logger.ts';
import { CHUNK_SIZE, MAX_CHUNKS } from '../../../src/session/chunks.ts';
import { createSessionCodec } from '../../../src/session/cookie-codec.ts';
import type { SessionData } from '../../../src/session/session-data.ts';

const SECRET_A = 'secret-a-0123456789abcdefghijklmnopqrstuv';
const SECRET_B = 'secret-b-0123456789abcdefghijklmnopqrstuv';
const T0 = Date.UTC(2030, 0, 1);

function sessionConfig(extra: Record<string, unknown> = {}) {
  return configSchema.parse({
    session: { secrets: [SECRET_A], idle_timeout: '1h', max_lifetime: '12h', ...extra },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', policy: 'public' }],
  }).session!;
}

function codec(extra: Record<string, unknown> = {}, secure = false, cacheSize = 100) {
  return createSessionCodec({ session: sessionConfig(extra), secure, cacheSize, log: silentLog });
}

function session(over: Partial<SessionData> = {}): SessionData {
  const now = Math.floor(T0 / 1000);
  return {
    v: 1,
    id: 'sid-1',
    iss: 'https://idp',
    claims: { sub: 'alice' },
    createdAt: now,
    lastSeenAt: now,
    ...over,
  };
}

/** Set-Cookie values → a Cookie header (live cookies only). */
function cookieHeader(setCookies: string[]): string {
  return setCookies
    .filter((c) => !/Max-Age=0(;|$)/.test(c))
    .map((c) => c.split(';')[0])
    .join('; ');
}

describe('session cookie codec', () => {
  it('round-trips a small session in one cookie with the right attributes', async () => {
    const c = codec();
    const set = await c.write(session(), [], T0);
    assert.equal(set.length, 1);
    assert.match(set[0]!, /^gatehouse=Fe26\.2\*\d+\*[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Lax$/);
    const read = await c.read(cookieHeader(set), T0 + 1000);
    assert.equal(read.session?.claims.sub, 'alice');
    assert.equal(read.reseal, false);
    assert.deepEqual(read.present, ['gatehouse']);
  });

  it('uses __Host- and Secure on https, plain name and Domain with cookie_domain', async () => {
    const secure = codec({}, true);
    assert.equal(secure.cookieName, '__Host-gatehouse');
    const [cookie] = await secure.write(session(), [], T0);
    assert.match(cookie!, /^__Host-gatehouse=.*; Path=\/; .*; Secure$/);
    assert.doesNotMatch(cookie!, /Domain=/);
    const shared = codec({ cookie_domain: 'example.com' }, true);
    assert.equal(shared.cookieName, 'gatehouse');
    assert.match(
      (await shared.write(session(), [], T0))[0]!,
      /; Domain=example\.com; HttpOnly; SameSite=Lax; Secure$/,
    );
  });

  it('enforces the absolute lifetime and the idle timeout from the sealed times', async () => {
    const c = codec();
    const header = cookieHeader(await c.write(session(), [], T0));
    assert.ok((await c.read(header, T0 + 59 * 60_000)).session);
    assert.equal((await c.read(header, T0 + 60 * 60_000)).reason, 'session_idle');
    // Active all along (lastSeenAt recent) but past max_lifetime.
    const active = session({ createdAt: Math.floor(T0 / 1000) - 12 * 3600 + 10 });
    const h2 = cookieHeader(await c.write(active, [], T0));
    assert.ok((await c.read(h2, T0 + 9_000)).session);
    const expired = await c.read(h2, T0 + 10_000);
    assert.equal(expired.reason, 'session_expired');
    assert.equal(expired.session, undefined);
  });

  it('asks for a reseal once a quarter of idle_timeout has passed, and the write bumps lastSeenAt', async () => {
    const c = codec();
    const header = cookieHeader(await c.write(session(), [], T0));
    assert.equal((await c.read(header, T0 + 14 * 60_000)).reseal, false);
    const due = await c.read(header, T0 + 15 * 60_000);
    assert.equal(due.reseal, true);
    const rewritten = cookieHeader(await c.write(due.session!, due.present, T0 + 15 * 60_000));
    const after = await c.read(rewritten, T0 + 70 * 60_000);
    assert.equal(after.session?.lastSeenAt, Math.floor((T0 + 15 * 60_000) / 1000));
  });

  it('serves repeat reads from the cache: a hash and a map hit, no unseal', async () => {
    const c = codec();
    const header = cookieHeader(await c.write(session(), [], T0));
    const before = { ...c.stats };
    for (let i = 0; i < 5; i++) assert.ok((await c.read(header, T0 + i)).session);
    assert.equal(c.stats.hits - before.hits, 5);
    assert.equal(c.stats.misses - before.misses, 0);
    // A warm read still applies the clock.
    assert.equal((await c.read(header, T0 + 61 * 60_000)).reason, 'session_idle');
    // Without a cache every read unseals.
    const cold = codec({}, false, 0);
    const h2 = cookieHeader(await cold.write(session(), [], T0));
    await cold.read(h2, T0);
    await cold.read(h2, T0);
    assert.equal(cold.stats.misses, 2);
  });

  it('tampered, truncated, foreign or garbage cookies are session_invalid, never an exception', async () => {
    const c = codec();
    const value = cookieHeader(await c.write(session(), [], T0)).slice('gatehouse='.length);
    const flip = (s: string, i: number) => `${s.slice(0, i)}${s[i] === 'a' ? 'b' : 'a'}${s.slice(i + 1)}`;
    const cases = [
      flip(value, 40),
      flip(value, value.length - 10),
      value.slice(0, -1),
      value.slice(0, 100),
      `${value}x`,
      'Fe26.2*1*a*b*c*d*e*f~2',
      'Fe26.2*constructor*a*b*c**e*f~2',
      'not-a-seal',
      '*******',
      '%00%01',
    ];
    for (const bad of cases) {
      const read = await c.read(`gatehouse=${bad}`, T0);
      assert.equal(read.reason, 'session_invalid', bad.slice(0, 30));
      assert.equal(read.session, undefined);
    }
    const other = createSessionCodec({
      session: { ...sessionConfig(), secrets: [SECRET_B] },
      secure: false,
      cacheSize: 10,
      log: silentLog,
    });
    assert.equal((await other.read(`gatehouse=${value}`, T0)).reason, 'session_invalid');
    assert.deepEqual(await c.read(undefined), { reseal: false, present: [] });
    assert.deepEqual(await c.read('other=1; x'), { reseal: false, present: [] });
  });

  it('unseals with any secret and asks to reseal a cookie sealed with an old one', async () => {
    const old = codec({ secrets: [SECRET_B] });
    const header = cookieHeader(await old.write(session(), [], T0));
    const rotated = codec({ secrets: [SECRET_A, SECRET_B] });
    const read = await rotated.read(header, T0);
    assert.equal(read.session?.claims.sub, 'alice');
    assert.equal(read.reseal, true);
    const resealed = cookieHeader(await rotated.write(read.session!, read.present, T0));
    assert.equal((await rotated.read(resealed, T0)).reseal, false);
    // The order of the list does not matter for unsealing: ids derive from the secrets.
    assert.ok((await codec({ secrets: [SECRET_B, SECRET_A] }).read(resealed, T0)).session);
    assert.equal((await old.read(resealed, T0)).reason, 'session_invalid');
  });

  it('chunks a large session, reads it back in any header order, and clears stale chunks', async () => {
    const c = codec();
    // Random bytes do not compress: this needs several chunks.
    const big = session({ accessToken: randomBytes(6000).toString('base64url') });
    const set = await c.write(big, [], T0);
    const names = set.map((s) => s.split('=')[0]);
    assert.ok(names.length >= 3);
    assert.deepEqual(
      names,
      names.map((_, i) => `gatehouse.${i}`),
    );
    for (const s of set) assert.ok(s.split(';')[0]!.length <= CHUNK_SIZE + 20);
    const header = cookieHeader(set);
    assert.equal((await c.read(header, T0)).session?.accessToken, big.accessToken);
    const reversed = header.split('; ').reverse().join('; ');
    assert.equal((await c.read(reversed, T0)).session?.accessToken, big.accessToken);

    const read = await c.read(header, T0);
    const small = await c.write(session(), read.present, T0);
    assert.equal(small[0]!.split('=')[0], 'gatehouse');
    const cleared = small.slice(1).map((s) => s.split('=')[0]);
    assert.deepEqual(cleared.sort(), names.sort());
    for (const s of small.slice(1)) assert.match(s, /=; Path=\/; Max-Age=0;/);
    // And back: a chunked write expires the plain cookie.
    const again = await c.write(big, ['gatehouse'], T0);
    assert.match(again.at(-1)!, /^gatehouse=; Path=\/; Max-Age=0/);
  });

  it('refuses missing, extra, mixed or too many chunks', async () => {
    const c = codec();
    const set = await c.write(session({ accessToken: randomBytes(6000).toString('base64url') }), [], T0);
    const pairs = cookieHeader(set).split('; ');
    const plain = cookieHeader(await c.write(session(), [], T0));
    const bad = [
      pairs.slice(1).join('; '), // .0 missing
      pairs.slice(0, -1).join('; '), // last missing
      [...pairs, 'gatehouse.9=abc'].join('; '), // gap + extra
      [...pairs, plain].join('; '), // both forms
      [pairs[0], pairs[2]].join('; '),
      [pairs[0], 'gatehouse.01=x', ...pairs.slice(1)].join('; '),
      pairs.map((p, i) => (i === 1 ? `${p.split('=')[0]}=` : p)).join('; '),
    ];
    for (const header of bad) assert.equal((await c.read(header, T0)).reason, 'session_invalid');
    const extraRead = await c.read([...pairs, 'gatehouse.9=abc'].join('; '), T0);
    assert.ok(
      extraRead.present.includes('gatehouse.9'),
      'present lists every chunk so clear() can expire it',
    );
    assert.ok(c.clear(extraRead.present).some((s) => s.startsWith('gatehouse.9=;')));
  });

  it('drops the id token rather than exceed the cookie budget, and refuses a session that still does not fit', async () => {
    const c = codec();
    const huge = randomBytes(CHUNK_SIZE * MAX_CHUNKS).toString('base64url');
    const withIdToken = session({ idToken: huge });
    const set = await c.write(withIdToken, [], T0);
    const read = await c.read(cookieHeader(set), T0);
    assert.equal(read.session?.idToken, undefined);
    assert.equal(read.session?.claims.sub, 'alice');
    await assert.rejects(c.write(session({ accessToken: huge }), [], T0), {
      code: 'session_too_large',
      message: /session\.max_chunks.*session\.storage: store.*fewer groups/,
    });
  });

  it('refuses more chunks or bytes than session.max_chunks before joining anything (CVE-2024-24814)', async () => {
    const c = codec();
    const many = Array.from({ length: MAX_CHUNKS + 1 }, (_, i) => `gatehouse.${i}=a`).join('; ');
    const tooMany = await c.read(many, T0);
    assert.equal(tooMany.reason, 'session_too_large');
    assert.equal(tooMany.present.length, MAX_CHUNKS + 1, 'every chunk is listed so clear() expires it');
    const fat = Array.from({ length: 2 }, (_, i) => `gatehouse.${i}=${'a'.repeat(CHUNK_SIZE * 5)}`).join(
      '; ',
    );
    assert.equal((await c.read(fat, T0)).reason, 'session_too_large');
    assert.equal(
      (await c.read(`gatehouse=${'a'.repeat(CHUNK_SIZE * MAX_CHUNKS + 1)}`, T0)).reason,
      'session_too_large',
    );
    assert.equal(c.stats.misses, 0, 'nothing was unsealed');
    // A lower cap applies to writes too: a session needing 3 chunks is refused with 2.
    const small = codec({ max_chunks: 2 });
    const token = randomBytes(CHUNK_SIZE * 2).toString('base64url');
    await assert.rejects(small.write(session({ accessToken: token }), [], T0), { code: 'session_too_large' });
    const written = await codec({ max_chunks: 4 }).write(session({ accessToken: token }), [], T0);
    assert.equal((await small.read(cookieHeader(written), T0)).reason, 'session_too_large');
  });

  it('writes nothing but deletions for a session past its lifetime', async () => {
    const c = codec();
    const set = await c.write(session(), ['gatehouse'], T0 + 13 * 3600_000);
    assert.deepEqual(set, ['gatehouse=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax']);
  });
});
