/** The memory limiter: answers as the bucket math does, forgets full buckets, stays bounded. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Identity } from '../../../src/identity/identity.ts';
import { limitHeaders } from '../../../src/limits/headers.ts';
import { bucketKey, limitKeySecret, limitSubject } from '../../../src/limits/limit-key.ts';
import { createMemoryLimiter } from '../../../src/limits/memory-limiter.ts';

const P = { requests: 2, windowMs: 1000, burst: 2 };

describe('memory limiter', () => {
  test('limits each key alone, and refills with the clock', async () => {
    let now = 1_000_000;
    const limiter = createMemoryLimiter(100, () => now);
    assert.equal((await limiter.take('a', P)).allowed, true);
    assert.equal((await limiter.take('a', P)).allowed, true);
    assert.equal((await limiter.take('a', P)).allowed, false);
    assert.equal((await limiter.take('b', P)).allowed, true);
    now += 500;
    assert.equal((await limiter.take('a', P)).allowed, true);
    assert.equal((await limiter.take('a', P)).allowed, false);
  });

  test('is bounded: the least recently used bucket is dropped at the bound', async () => {
    const limiter = createMemoryLimiter(10, () => 0);
    for (let i = 0; i < 50; i++) await limiter.take(`k${i}`, P);
    assert.equal(limiter.size, 10);
  });

  test('a bucket full again is forgotten (it expires when it would be full)', async () => {
    let now = 0;
    const limiter = createMemoryLimiter(10, () => now);
    await limiter.take('a', P);
    await limiter.take('a', P);
    now += 1000; // full again
    const r = await limiter.take('a', P);
    assert.equal(r.remaining, 1); // as a fresh bucket
  });
});

describe('bucket keys', () => {
  const key = limitKeySecret('x'.repeat(32));
  const alice = { iss: 'https://idp', idp: 'corp', sub: 'alice', clientId: 'cli' } as unknown as Identity;
  const alice2 = { iss: 'https://idp', idp: 'corp', sub: 'alice', clientId: 'other' } as unknown as Identity;

  test('identity ignores the client; client tells clients apart; ip uses the address', () => {
    assert.equal(limitSubject('identity', alice, '1.1.1.1'), limitSubject('identity', alice2, '2.2.2.2'));
    assert.notEqual(limitSubject('client', alice, '1.1.1.1'), limitSubject('client', alice2, '1.1.1.1'));
    assert.equal(limitSubject('ip', alice, '1.1.1.1'), limitSubject('ip', alice2, '1.1.1.1'));
    assert.notEqual(limitSubject('ip', alice, '1.1.1.1'), limitSubject('ip', alice, '1.1.1.2'));
  });

  test('anonymous callers are limited by address whatever per says', () => {
    assert.equal(limitSubject('identity', undefined, '9.9.9.9'), limitSubject('ip', alice, '9.9.9.9'));
  });

  test('keys are hashed, per route and per deployment key', () => {
    const k = bucketKey(key, 'api', limitSubject('identity', alice, ''));
    assert.match(k, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!k.includes('alice'));
    assert.notEqual(k, bucketKey(key, 'web', limitSubject('identity', alice, '')));
    assert.notEqual(k, bucketKey(limitKeySecret('y'.repeat(32)), 'api', limitSubject('identity', alice, '')));
  });
});

describe('headers', () => {
  test('draft-09 structured fields and Retry-After on a refusal', () => {
    const h = limitHeaders(
      'api',
      { requests: 100, windowMs: 60_000, burst: 100 },
      {
        allowed: false,
        remaining: 0,
        retryAfterS: 1,
        resetS: 60,
      },
    );
    assert.deepEqual(h, {
      'ratelimit-policy': '"api";q=100;w=60',
      ratelimit: '"api";r=0;t=60',
      'retry-after': '1',
    });
  });
});
