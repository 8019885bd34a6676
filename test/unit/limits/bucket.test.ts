/**
 * The token bucket: a fresh bucket is full, it refills continuously at requests/window up to
 * burst, and no sequence of requests at any times gets more than burst + refill through.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type BucketPolicy, type BucketState, isFull, take, tokensAt } from '../../../src/limits/bucket.ts';

const P: BucketPolicy = { requests: 10, windowMs: 1000, burst: 10 };

describe('take', () => {
  test('a fresh bucket allows burst requests at once, then refuses with Retry-After', () => {
    let state: BucketState | undefined;
    for (let i = 0; i < 10; i++) {
      const r = take(state, 5000, P);
      assert.equal(r.allowed, true, `request ${i}`);
      assert.equal(r.remaining, 9 - i);
      state = r.state;
    }
    const refused = take(state, 5000, P);
    assert.equal(refused.allowed, false);
    assert.equal(refused.remaining, 0);
    assert.equal(refused.retryAfterS, 1); // one token in 100 ms, rounded up to a whole second
    assert.equal(refused.resetS, 1);
  });

  test('refills at requests per window, never above burst', () => {
    const empty: BucketState = { tokens: 0, at: 0 };
    assert.equal(tokensAt(empty, 500, P), 5);
    assert.equal(tokensAt(empty, 10_000, P), 10);
    assert.equal(isFull(empty, 1000, P), true);
    assert.equal(isFull(empty, 999, P), false);
  });

  test('burst may differ from requests: capacity 2, 60 per minute', () => {
    const p: BucketPolicy = { requests: 60, windowMs: 60_000, burst: 2 };
    let s = take(undefined, 0, p).state;
    s = take(s, 0, p).state;
    const r = take(s, 0, p);
    assert.equal(r.allowed, false);
    assert.equal(r.retryAfterS, 1);
    assert.equal(take(s, 1000, p).allowed, true);
  });

  test('a clock stepping back mints no tokens', () => {
    const s: BucketState = { tokens: 0, at: 10_000 };
    const r = take(s, 0, P);
    assert.equal(r.allowed, false);
    assert.equal(r.state.at, 10_000);
  });

  test('property: over any schedule, allowed ≤ burst + elapsed × rate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1000, max: 120_000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 300 }),
        (requests, windowMs, burst, gaps) => {
          const p = { requests, windowMs, burst };
          let state: BucketState | undefined;
          let now = 0;
          let allowed = 0;
          for (const gap of gaps) {
            now += gap;
            const r = take(state, now, p);
            state = r.state;
            if (r.allowed) allowed++;
            assert.ok(r.remaining >= 0 && r.remaining <= burst);
            assert.ok(r.state.tokens >= 0 && r.state.tokens <= burst);
            if (!r.allowed) assert.ok(r.retryAfterS >= 1);
          }
          const elapsed = now - gaps[0]!;
          assert.ok(allowed <= burst + (elapsed * requests) / windowMs + 1e-9, `${allowed} allowed`);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('property: a refused request would be allowed after Retry-After seconds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1000, max: 3_600_000 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (requests, windowMs, tokens) => {
          const p = { requests, windowMs, burst: requests };
          const r = take({ tokens, at: 0 }, 0, p);
          assert.equal(r.allowed, false);
          assert.equal(take(r.state, r.retryAfterS * 1000, p).allowed, true);
        },
      ),
    );
  });
});
