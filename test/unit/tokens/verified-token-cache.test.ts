import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type VerifiedToken, VerifiedTokenCache } from '../../../src/tokens/verified-token-cache.ts';

const T0 = 1_800_000_000; // epoch s
const token = (exp: number, key = 'k'): VerifiedToken => ({
  claims: {},
  issuer: 'i',
  expiresAt: exp,
  cacheKey: key,
});

describe('VerifiedTokenCache', () => {
  it('hits until exp, then misses', () => {
    const cache = new VerifiedTokenCache(10);
    const t = token(T0 + 60);
    cache.set(t, { notBefore: undefined, skew: 30 });
    assert.equal(cache.get('k', T0 * 1000), t);
    assert.equal(cache.get('k', (T0 + 59) * 1000), t);
    assert.equal(cache.get('k', (T0 + 60) * 1000), undefined);
    assert.deepEqual(cache.stats, { hits: 2, misses: 1 });
  });

  it('never outlives `until` nor exp', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set(token(T0 + 60), { notBefore: undefined, skew: 0, until: (T0 + 10) * 1000 });
    assert.equal(cache.get('k', (T0 + 11) * 1000), undefined);
    cache.set(token(T0 + 60), { notBefore: undefined, skew: 0, until: (T0 + 600) * 1000 });
    assert.equal(cache.get('k', (T0 + 61) * 1000), undefined);
  });

  it('re-checks nbf against now', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set(token(T0 + 600), { notBefore: T0 + 100, skew: 30 });
    assert.throws(() => cache.get('k', T0 * 1000), { code: 'token_not_yet_valid' });
    assert.ok(cache.get('k', (T0 + 80) * 1000));
  });

  it('is bounded by count, and disabled at 0', () => {
    const cache = new VerifiedTokenCache(2);
    for (const k of ['a', 'b', 'c']) cache.set(token(T0 + 60, k), { notBefore: undefined, skew: 0 });
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a', T0 * 1000), undefined);
    const off = new VerifiedTokenCache(0);
    off.set(token(T0 + 60), { notBefore: undefined, skew: 0 });
    assert.equal(off.get('k', T0 * 1000), undefined);
  });
});
