/**
 * One suite against every store (memory and a real redis-server), then what only a shared
 * store does: replicas agree through pub/sub, an outage is reported (never guessed), and
 * revocations made during the outage reach the other replica once Redis returns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLog } from '../../src/observe/logger.ts';
import { createRedisStore, redactRedisUrl } from '../../src/store/redis-store.ts';
import {
  createMemoryStore,
  type SharedStore,
  type StoreOp,
  StoreUnavailableError,
} from '../../src/store/store.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';

const ISS = 'https://idp.example.com';
const nowS = () => Math.floor(Date.now() / 1000);
const session = (over: Partial<{ id: string; sub: string; idpSid: string; createdAt: number }> = {}) => ({
  id: 's1',
  iss: ISS,
  sub: 'alice',
  createdAt: nowS() - 10,
  ...over,
});

const skipRedis = redisMissing();
let redis: TestRedis | undefined;
const stores: SharedStore[] = [];

before(async () => {
  if (!skipRedis) redis = await startRedis();
});
after(async () => {
  for (const s of stores) await s.close();
  await redis?.close();
});

function redisStore(errors: StoreOp[] = []): SharedStore {
  const s = createRedisStore({ url: redis!.url, log: silentLog, onError: (op) => errors.push(op) });
  stores.push(s);
  return s;
}

const kinds: Array<[string, () => Promise<SharedStore>, string | false]> = [
  ['memory', async () => createMemoryStore(), false],
  [
    'redis',
    async () => {
      const s = redisStore();
      assert.ok(await s.whenSynced(5000), 'synced');
      return s;
    },
    skipRedis,
  ],
];

for (const [name, make, skip] of kinds) {
  describe(`store: ${name}`, { skip }, () => {
    it('revokes one session by id, until its lifetime ends', async () => {
      const s = await make();
      assert.equal(s.check(session({ id: 'a' })), 'ok');
      await s.revoke('a', nowS() + 60);
      assert.equal(s.check(session({ id: 'a' })), 'revoked');
      assert.equal(s.check(session({ id: 'b' })), 'ok');
      await s.revoke('expired', nowS() - 1);
      assert.equal(s.check(session({ id: 'expired' })), 'ok');
    });

    it('revokes by IdP session (iss, sid)', async () => {
      const s = await make();
      await s.revokeSid(ISS, 'sid-1', nowS() + 60);
      assert.equal(s.check(session({ id: 'x', idpSid: 'sid-1' })), 'revoked');
      assert.equal(s.check(session({ id: 'x', idpSid: 'sid-2' })), 'ok');
      assert.equal(s.check({ ...session({ id: 'x', idpSid: 'sid-1' }), iss: 'https://other' }), 'ok');
    });

    it('revokes every session of a subject created at or before T, not later ones', async () => {
      const s = await make();
      const t = nowS();
      await s.revokeSubject(ISS, 'bob', t, t + 60);
      assert.equal(s.check(session({ id: 'old', sub: 'bob', createdAt: t - 100 })), 'revoked');
      assert.equal(s.check(session({ id: 'same', sub: 'bob', createdAt: t })), 'revoked');
      assert.equal(s.check(session({ id: 'new', sub: 'bob', createdAt: t + 1 })), 'ok');
      assert.equal(s.check(session({ id: 'other', sub: 'carol', createdAt: t - 100 })), 'ok');
    });

    it('claims a one-time marker once', async () => {
      const s = await make();
      const key = `state:${Math.random()}`;
      assert.equal(await s.claimOnce(key, 10_000), true);
      assert.equal(await s.claimOnce(key, 10_000), false);
      assert.equal(await s.claimOnce(`${key}-other`, 10_000), true);
    });
  });
}

describe('store: redis across replicas', { skip: skipRedis }, () => {
  it('a revocation on one replica reaches the other through pub/sub', async () => {
    const a = redisStore();
    const b = redisStore();
    assert.ok((await a.whenSynced(5000)) && (await b.whenSynced(5000)));
    await a.revokeSid(ISS, 'shared-sid', nowS() + 60);
    await waitFor(() => b.check(session({ id: 'y', idpSid: 'shared-sid' })) === 'revoked', {
      timeoutMs: 3000,
      what: 'pub/sub',
    });
    // A replica started later loads what is already there.
    const c = redisStore();
    assert.ok(await c.whenSynced(5000));
    assert.equal(c.check(session({ id: 'y', idpSid: 'shared-sid' })), 'revoked');
  });

  it('the refresh lock is exclusive and the result slot is shared', async () => {
    const a = redisStore();
    const b = redisStore();
    assert.ok((await a.whenSynced(5000)) && (await b.whenSynced(5000)));
    assert.equal(await a.refresh!.lock('k1', 5000), true);
    assert.equal(await b.refresh!.lock('k1', 5000), false);
    await b.refresh!.unlock('k1'); // not b's lock: no effect
    assert.equal(await b.refresh!.lock('k1', 5000), false);
    await a.refresh!.put('k1', 'sealed-result', 5000);
    assert.equal(await b.refresh!.get('k1'), 'sealed-result');
    await a.refresh!.unlock('k1');
    assert.equal(await b.refresh!.lock('k1', 5000), true);
  });

  it('an outage is reported, counted, and healed: revocations made meanwhile reach every replica', async () => {
    const errorsA: StoreOp[] = [];
    const a = redisStore(errorsA);
    const b = redisStore();
    assert.ok((await a.whenSynced(5000)) && (await b.whenSynced(5000)));
    await a.revoke('before-outage', nowS() + 60);
    await waitFor(() => b.check(session({ id: 'before-outage' })) === 'revoked', {
      timeoutMs: 3000,
      what: 'pub/sub',
    });

    await redis!.kill();
    await waitFor(() => !a.synced && !b.synced, {
      timeoutMs: 5000,
      what: 'both replicas to notice the outage',
    });
    assert.equal(a.check(session({ id: 'fresh' })), 'unavailable');
    // What a replica knows stays known: a revoked session is still revoked, not "unavailable".
    assert.equal(b.check(session({ id: 'before-outage' })), 'revoked');
    await assert.rejects(a.claimOnce('jti:x', 1000), StoreUnavailableError);
    // Revoked during the outage: refused here at once, shared once Redis is back.
    await assert.rejects(a.revoke('during-outage', nowS() + 60), StoreUnavailableError);
    assert.equal(a.check(session({ id: 'during-outage' })), 'revoked');
    assert.ok(errorsA.includes('check') && errorsA.includes('once') && errorsA.includes('revoke'));

    await redis!.restart(); // empty: no persistence
    assert.ok(await a.whenSynced(10_000), 'a resynchronised');
    assert.ok(await b.whenSynced(10_000), 'b resynchronised');
    await waitFor(() => b.check(session({ id: 'during-outage' })) === 'revoked', {
      timeoutMs: 5000,
      what: 'write-back',
    });
    assert.equal(b.check(session({ id: 'fresh' })), 'ok');
    // Redis lost its data, but the replicas wrote their entries back: a new replica sees them.
    const c = redisStore();
    assert.ok(await c.whenSynced(5000));
    await waitFor(() => c.check(session({ id: 'before-outage' })) === 'revoked', {
      timeoutMs: 3000,
      what: 'entries written back to the restarted redis',
    });
  });
});

describe('redactRedisUrl', () => {
  it('drops credentials', () => {
    assert.equal(redactRedisUrl('redis://:s3cret@redis.internal:6379/0'), 'redis://redis.internal:6379/0');
    assert.equal(redactRedisUrl('rediss://user:pw@h/1'), 'rediss://h/1');
  });
});
