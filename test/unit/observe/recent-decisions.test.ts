import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntry } from '../../../src/observe/audit.ts';
import { createRecentDecisions } from '../../../src/observe/recent-decisions.ts';

const entry = (i: number): AuditEntry => ({
  request_id: `req-${i}`,
  route: 'app',
  method: 'GET',
  host: 'app.example.com',
  path: `/app/${i}`,
  client_ip: '192.0.2.7',
  sub: `user-${i}`,
  decision: i % 2 ? 'deny' : 'allow',
  reason: i % 2 ? 'policy_denied' : 'policy_allowed',
  status: i % 2 ? 403 : 200,
  duration_ms: 0.25,
});

describe('recent decisions ring', () => {
  it('keeps every decision, oldest first, until it is full', () => {
    const ring = createRecentDecisions(4);
    assert.deepEqual(ring.list(), []);
    for (let i = 1; i <= 3; i++) ring.push(entry(i), 1000 + i);
    const list = ring.list();
    assert.deepEqual(
      list.map((d) => [d.seq, d.request_id, d.time]),
      [
        [1, 'req-1', 1001],
        [2, 'req-2', 1002],
        [3, 'req-3', 1003],
      ],
    );
    assert.equal(list[0]?.reason, 'policy_denied');
    assert.equal(ring.last, 3);
  });

  it('keeps only the newest `capacity` once it wraps, in order', () => {
    const ring = createRecentDecisions(3);
    for (let i = 1; i <= 10; i++) ring.push(entry(i), i);
    assert.deepEqual(
      ring.list().map((d) => d.request_id),
      ['req-8', 'req-9', 'req-10'],
    );
    assert.deepEqual(
      ring.list().map((d) => d.seq),
      [8, 9, 10],
    );
  });

  it('lists only the decisions after a sequence number (a poller that saw some)', () => {
    const ring = createRecentDecisions(5);
    for (let i = 1; i <= 7; i++) ring.push(entry(i), i);
    assert.deepEqual(
      ring.list(5).map((d) => d.seq),
      [6, 7],
    );
    assert.deepEqual(ring.list(7), []);
    // Older than what is kept: what is kept.
    assert.deepEqual(
      ring.list(1).map((d) => d.seq),
      [3, 4, 5, 6, 7],
    );
  });

  it('hands out copies: a listed decision changed by the caller leaves the ring alone', () => {
    const ring = createRecentDecisions(2);
    ring.push(entry(1), 1);
    const [first] = ring.list();
    (first as { sub?: string }).sub = 'changed';
    assert.equal(ring.list()[0]?.sub, 'user-1');
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => createRecentDecisions(bad), {
        code: 'ERR_INVALID_ARG_VALUE',
        message: /"capacity"/,
      });
    }
  });
});
