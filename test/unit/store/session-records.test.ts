import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemorySessionRecords, parseSummary } from '../../../src/store/session-records.ts';

const summary = (id: string, sub = 'alice') => ({ id, sub, iss: 'https://idp', createdAt: 1, lastSeenAt: 2 });

describe('memory session records', () => {
  it('keeps a record until its TTL and lists it under its subject only', async () => {
    const r = createMemorySessionRecords();
    await r.put('k1', 'blob1', 60_000, summary('k1'), 60_000);
    await r.put('k2', 'blob2', 1, summary('k2'), 60_000);
    await r.put('k3', 'blob3', 60_000, summary('k3', 'bob'), 60_000);
    await new Promise((res) => setTimeout(res, 5));
    assert.equal(await r.get('k1'), 'blob1');
    assert.equal(await r.get('k2'), undefined, 'expired');
    assert.deepEqual(
      (await r.list('alice')).map((s) => s.id),
      ['k1'],
    );
    assert.deepEqual(
      (await r.list('bob')).map((s) => s.id),
      ['k3'],
    );
    await r.delete('k1');
    assert.equal(await r.get('k1'), undefined);
    assert.deepEqual(await r.list('alice'), []);
  });

  it('is bounded: the oldest record goes when full', async () => {
    const r = createMemorySessionRecords(2);
    for (const id of ['a', 'b', 'c']) await r.put(id, id, 60_000, summary(id), 60_000);
    assert.equal(await r.get('a'), undefined);
    assert.deepEqual((await r.list('alice')).map((s) => s.id).sort(), ['b', 'c']);
  });

  it('parses only well-formed summaries', () => {
    assert.deepEqual(parseSummary(JSON.stringify(summary('x'))), summary('x'));
    for (const bad of [
      '',
      '{',
      'null',
      '[]',
      JSON.stringify({ ...summary('x'), createdAt: 'now' }),
      JSON.stringify({ id: 1 }),
    ])
      assert.equal(parseSummary(bad), undefined, bad);
  });
});
