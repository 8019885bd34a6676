/**
 * The Lua script against a real redis-server: the same answers as the bucket math, atomic under
 * concurrent takes, the key expiring once full, and NOSCRIPT (a flushed script cache) answered
 * by loading the script again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { take } from '../../../src/limits/bucket.ts';
import { createRedisLimiter, TAKE_SHA } from '../../../src/limits/redis-limiter.ts';
import { redisMissing, startRedis, type TestRedis } from '../../helpers/redis.ts';

describe('redis limiter', { skip: redisMissing() }, () => {
  let redis: TestRedis;
  let client: ReturnType<typeof createClient>;
  const send = (args: string[]) => client.sendCommand(args);

  before(async () => {
    redis = await startRedis();
    client = createClient({ url: redis.url });
    await client.connect();
  });
  after(async () => {
    await client?.close();
    await redis?.close();
  });

  test('a fresh bucket allows burst, then refuses; it refills with Redis time', async () => {
    const limiter = createRedisLimiter(send);
    const p = { requests: 3, windowMs: 1000, burst: 3 };
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await limiter.take('fresh', p));
    assert.deepEqual(
      answers.map((a) => [a.allowed, a.remaining]),
      [
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
      ],
    );
    assert.equal(answers[3]!.retryAfterS, 1);
    await new Promise((r) => setTimeout(r, 400)); // ≥ 1 token back
    assert.equal((await limiter.take('fresh', p)).allowed, true);
  });

  test('the key carries a TTL no longer than the time to full + 1 s', async () => {
    const limiter = createRedisLimiter(send);
    await limiter.take('ttl', { requests: 1, windowMs: 10_000, burst: 1 });
    const ttl = Number(await send(['PTTL', 'gatehouse:rl:ttl']));
    assert.ok(ttl > 9000 && ttl <= 11_000, `ttl ${ttl}`);
  });

  test('atomic: 200 concurrent takes on a bucket of 50 allow exactly 50', async () => {
    const limiter = createRedisLimiter(send);
    const p = { requests: 50, windowMs: 3_600_000, burst: 50 };
    const all = await Promise.all(Array.from({ length: 200 }, () => limiter.take('race', p)));
    assert.equal(all.filter((a) => a.allowed).length, 50);
  });

  test('NOSCRIPT after SCRIPT FLUSH: the script is loaded again and the answer is right', async () => {
    const limiter = createRedisLimiter(send);
    const p = { requests: 5, windowMs: 1000, burst: 5 };
    await limiter.take('flush', p);
    await send(['SCRIPT', 'FLUSH']);
    assert.deepEqual(await send(['SCRIPT', 'EXISTS', TAKE_SHA]), [0]);
    const r = await limiter.take('flush', p);
    assert.equal(r.allowed, true);
    assert.equal(r.remaining, 3);
    assert.deepEqual(await send(['SCRIPT', 'EXISTS', TAKE_SHA]), [1]);
  });

  test('refills as take() does from a stored state; a stored time ahead of Redis mints nothing', async () => {
    const limiter = createRedisLimiter(send);
    const p = { requests: 10, windowMs: 1000, burst: 10 };
    const [sec, usec] = (await send(['TIME'])) as unknown as [string, string];
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    // 0.5 tokens 100 ms ago: 1.5 now (at 10/s) → allowed, 0 whole tokens left, as take() says
    await send(['HSET', 'gatehouse:rl:state', 'tokens', '0.5', 'at', String(now - 100)]);
    const r = await limiter.take('state', p);
    const expected = take({ tokens: 0.5, at: now - 100 }, now, p);
    assert.deepEqual([r.allowed, r.remaining], [expected.allowed, expected.remaining]);
    const tokens = Number(await send(['HGET', 'gatehouse:rl:state', 'tokens']));
    assert.ok(Math.abs(tokens - expected.state.tokens) < 0.1, `tokens ${tokens}`); // ms of drift at most
    // 0.5 tokens stored "an hour from now" (a clock that stepped back): no refill, refused
    await send(['HSET', 'gatehouse:rl:ahead', 'tokens', '0.5', 'at', String(now + 3_600_000)]);
    const ahead = await limiter.take('ahead', p);
    assert.equal(ahead.allowed, false);
    assert.equal(Number(await send(['HGET', 'gatehouse:rl:ahead', 'at'])), now + 3_600_000);
  });

  test('a store error other than NOSCRIPT surfaces to the caller', async () => {
    const limiter = createRedisLimiter(async () => {
      throw new Error('connection lost');
    });
    await assert.rejects(limiter.take('x', { requests: 1, windowMs: 1000, burst: 1 }), /connection lost/);
  });
});
