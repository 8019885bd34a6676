import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionData } from '../../../src/session/session-data.ts';
import { createRecordCipher, recordKey, shortUserAgent } from '../../../src/session/session-record.ts';

const SECRET_A = 'secret-a-0123456789abcdefghijklmnopqrstuv';
const SECRET_B = 'secret-b-0123456789abcdefghijklmnopqrstuv';
const KEY = recordKey('random-session-id-0123');

function session(over: Partial<SessionData> = {}): SessionData {
  return {
    v: 1,
    id: KEY,
    iss: 'https://idp',
    claims: { sub: 'alice', groups: ['a', 'b'] },
    createdAt: 1_900_000_000,
    lastSeenAt: 1_900_000_000,
    accessToken: 'at-secret-value',
    refreshToken: 'rt-secret-value',
    ...over,
  };
}

describe('session records', () => {
  it('round-trips a record, and the blob shows no token or claim', () => {
    const c = createRecordCipher([SECRET_A]);
    const blob = c.seal(KEY, { session: session(), userAgent: 'curl/8' });
    for (const secret of ['at-secret-value', 'rt-secret-value', 'alice', 'groups'])
      assert.ok(!blob.includes(secret), `blob leaks ${secret}`);
    assert.match(blob, /^r1\.\d+\.[\w-]+$/);
    const opened = c.open(KEY, blob);
    assert.deepEqual(opened, { session: session(), userAgent: 'curl/8', current: true });
  });

  it('keys records by a hash: never the id, stable, domain-separated', () => {
    assert.equal(recordKey('x'), recordKey('x'));
    assert.notEqual(recordKey('x'), recordKey('y'));
    assert.ok(!recordKey('random-session-id-0123').includes('random'));
    assert.match(KEY, /^[\w-]{43}$/);
  });

  it('rotation: the first secret encrypts, older ones still decrypt (and say so)', () => {
    const old = createRecordCipher([SECRET_A]);
    const rotated = createRecordCipher([SECRET_B, SECRET_A]);
    const oldBlob = old.seal(KEY, { session: session() });
    assert.equal(rotated.open(KEY, oldBlob)?.current, false);
    assert.deepEqual(rotated.open(KEY, oldBlob)?.session, session());
    const newBlob = rotated.seal(KEY, { session: session() });
    assert.equal(rotated.open(KEY, newBlob)?.current, true);
    // Once the old secret is removed, its blobs no longer open; the new one never opened under it.
    assert.equal(createRecordCipher([SECRET_B]).open(KEY, oldBlob), undefined);
    assert.equal(old.open(KEY, newBlob), undefined);
  });

  it('refuses tampered, truncated, foreign and malformed blobs', () => {
    const c = createRecordCipher([SECRET_A]);
    const blob = c.seal(KEY, { session: session() });
    const [v, id, raw] = blob.split('.') as [string, string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const bad of [
      `${v}.${id}.${flip(raw, 20)}`,
      `${v}.${id}.${flip(raw, raw.length - 3)}`,
      `${v}.${id}.${raw.slice(0, 30)}`,
      `${v}.${id}.`,
      `r2.${id}.${raw}`,
      `${v}.123.${raw}`,
      `${v}.constructor.${raw}`,
      `${blob}.x`,
      '',
      'x'.repeat(2 << 20),
    ])
      assert.equal(c.open(KEY, bad), undefined, bad.slice(0, 40));
    // The record key is bound in: the same blob under another key does not open.
    assert.equal(c.open(recordKey('another'), blob), undefined);
    // A well-encrypted record whose session names another key is refused too.
    const other = c.seal(KEY, { session: session({ id: recordKey('another') }) });
    assert.equal(c.open(KEY, other), undefined);
  });

  it('refuses short secrets like the sealer', () => {
    assert.throws(() => createRecordCipher(['short']), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => createRecordCipher([]), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('keeps a printable, bounded User-Agent', () => {
    assert.equal(shortUserAgent('Mozilla/5.0\r\nX: y'), 'Mozilla/5.0X: y');
    assert.equal(shortUserAgent('a'.repeat(500))?.length, 200);
    assert.equal(shortUserAgent('\u0000'), undefined);
    assert.equal(shortUserAgent(undefined), undefined);
  });
});
