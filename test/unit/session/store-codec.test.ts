import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/config/schema.ts';
import { silentLog } from '../../../src/observe/logger.ts';
import type { SessionData } from '../../../src/session/session-data.ts';
import { recordKey } from '../../../src/session/session-record.ts';
import { createStoreSessionCodec, RECORD_CACHE_MS } from '../../../src/session/store-codec.ts';
import { createMemorySessionRecords, type SessionRecords } from '../../../src/store/session-records.ts';

const SECRET_A = 'secret-a-0123456789abcdefghijklmnopqrstuv';
const SECRET_B = 'secret-b-0123456789abcdefghijklmnopqrstuv';
const T0 = Date.UTC(2030, 0, 1);
const GROUPS = Array.from({ length: 150 }, (_, i) => `platform-engineering-team-${i}-read-write-access`);

function codec(records: SessionRecords, extra: Record<string, unknown> = {}) {
  const session = configSchema.parse({
    session: { secrets: [SECRET_A], idle_timeout: '1h', max_lifetime: '12h', storage: 'store', ...extra },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', policy: 'public' }],
  }).session!;
  return createStoreSessionCodec({ session, secure: false, cacheSize: 100, log: silentLog, records });
}

function session(over: Partial<SessionData> = {}): SessionData {
  const now = Math.floor(T0 / 1000);
  return {
    v: 1,
    id: 'fresh-random-id-0123456789',
    iss: 'https://idp',
    idp: 'main',
    claims: { sub: 'alice', groups: GROUPS },
    createdAt: now,
    lastSeenAt: now,
    accessToken: 'a'.repeat(3000),
    refreshToken: 'r'.repeat(500),
    ...over,
  };
}

const header = (setCookies: string[]) =>
  setCookies
    .filter((c) => !/Max-Age=0(;|$)/.test(c))
    .map((c) => c.split(';')[0])
    .join('; ');

describe('store session codec', () => {
  it('writes one small id cookie for a 150-group session; the record holds the session', async () => {
    const records = createMemorySessionRecords();
    const c = codec(records);
    const set = await c.write(session(), [], T0, { userAgent: 'Firefox/130' });
    assert.equal(set.length, 1);
    assert.match(set[0]!, /^gatehouse=Fe26\.2\*[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Lax$/);
    assert.ok(set[0]!.length < 400, `cookie is ${set[0]!.length} bytes`);
    const key = recordKey('fresh-random-id-0123456789');
    const read = await c.read(header(set), T0 + 1000);
    assert.equal(read.reason, undefined);
    assert.equal(read.session?.id, key, 'the session is named by its record key');
    assert.deepEqual(read.session?.claims.groups, GROUPS);
    assert.equal(read.reseal, false);
    const listed = await records.list('alice');
    assert.equal(listed.length, 1);
    assert.deepEqual(
      { ...listed[0], createdAt: 0, lastSeenAt: 0 },
      {
        id: key,
        sub: 'alice',
        iss: 'https://idp',
        idp: 'main',
        createdAt: 0,
        lastSeenAt: 0,
        userAgent: 'Firefox/130',
      },
    );
    // A second process (another replica) reads the same record from the same store.
    assert.deepEqual((await codec(records).read(header(set), T0 + 1000)).session?.claims.sub, 'alice');
  });

  it('a later write (refresh, lastSeenAt bump) updates the record and leaves the cookie alone', async () => {
    const records = createMemorySessionRecords();
    const c = codec(records);
    const cookie = header(await c.write(session(), [], T0));
    const read = await c.read(cookie, T0 + 1000);
    const refreshed = { ...read.session!, accessToken: 'new-access-token' };
    assert.deepEqual(await c.write(refreshed, read.present, T0 + 2000), []);
    const other = codec(records); // no cache: straight from the store
    assert.equal((await other.read(cookie, T0 + 3000)).session?.accessToken, 'new-access-token');
  });

  it('asks for a rewrite when lastSeenAt is due a bump; idle and absolute expiry hold', async () => {
    const records = createMemorySessionRecords();
    const c = codec(records);
    const cookie = header(await c.write(session(), [], T0));
    assert.equal((await c.read(cookie, T0 + 16 * 60_000)).reseal, true);
    assert.equal((await codec(records).read(cookie, T0 + 61 * 60_000)).reason, 'session_idle');
    const old = session({ id: 'old-random-id-0123456789', createdAt: Math.floor(T0 / 1000) - 11 * 3600 });
    const oldCookie = header(await c.write(old, [], T0));
    assert.equal((await codec(records).read(oldCookie, T0 + 3600_000)).reason, 'session_expired');
  });

  it('no record (signed out, revoked, expired in the store) is session_expired', async () => {
    const records = createMemorySessionRecords();
    const c = codec(records);
    const cookie = header(await c.write(session(), [], T0));
    await records.delete(recordKey('fresh-random-id-0123456789'), 'alice');
    assert.equal((await c.read(cookie, T0 + RECORD_CACHE_MS + 1)).reason, 'session_expired');
    assert.deepEqual(await records.list('alice'), []);
  });

  it('refuses tampered cookies, chunked cookies and tampered records', async () => {
    const records = createMemorySessionRecords();
    const c = codec(records);
    const cookie = header(await c.write(session(), [], T0));
    const flipped = `${cookie.slice(0, 60)}${cookie[60] === 'A' ? 'B' : 'A'}${cookie.slice(61)}`;
    assert.equal((await c.read(flipped, T0)).reason, 'session_invalid');
    assert.equal((await c.read('gatehouse.0=abc; gatehouse.1=def', T0)).reason, 'session_invalid');
    assert.equal((await c.read(`gatehouse=${'x'.repeat(2000)}`, T0)).reason, 'session_invalid');
    const key = recordKey('fresh-random-id-0123456789');
    const blob = (await records.get(key))!;
    await records.put(
      key,
      `${blob.slice(0, -4)}AAAA`,
      60_000,
      { id: key, sub: 'alice', iss: 'x', createdAt: 0, lastSeenAt: 0 },
      60_000,
    );
    assert.equal((await codec(records).read(cookie, T0)).reason, 'session_expired');
  });

  it('rotation: an old-secret cookie and record open, and are rewritten with the new secret', async () => {
    const records = createMemorySessionRecords();
    const cookie = header(await codec(records).write(session(), [], T0));
    const rotated = codec(records, { secrets: [SECRET_B, SECRET_A] });
    const read = await rotated.read(cookie, T0 + 1000);
    assert.equal(read.reseal, true);
    const set = await rotated.write(read.session!, read.present, T0 + 1000);
    assert.equal(set.length, 1, 'the id cookie is sealed again with the new secret');
    const onlyB = codec(records, { secrets: [SECRET_B] });
    assert.equal((await onlyB.read(header(set), T0 + 2000)).session?.claims.sub, 'alice');
    assert.equal((await onlyB.read(cookie, T0 + 2000)).reason, 'session_invalid');
  });

  it('a store that cannot answer is store_unavailable, not a signed-out user', async () => {
    const records = createMemorySessionRecords();
    const cookie = header(await codec(records).write(session(), [], T0));
    const broken: SessionRecords = {
      ...records,
      get: () => Promise.reject(new Error('ECONNREFUSED')),
      put: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    await assert.rejects(codec(broken).read(cookie, T0), { code: 'store_unavailable' });
    await assert.rejects(codec(broken).write(session(), [], T0), { code: 'store_unavailable' });
  });
});
