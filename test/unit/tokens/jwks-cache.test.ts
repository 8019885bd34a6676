import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { maxAgeMs } from '../../../src/tokens/fetch-json.ts';
import { usableKeys } from '../../../src/tokens/jwks-cache.ts';

describe('usableKeys', () => {
  it('keeps public RSA/EC/OKP signing keys and drops the rest', async () => {
    const ec = await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey);
    const ed = await exportJWK((await generateKeyPair('EdDSA', { extractable: true })).publicKey);
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const rsaPrivate = await exportJWK(privateKey);
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rsa } = rsaPrivate;
    const keys = usableKeys({
      keys: [
        { ...ec, kid: 'ec' },
        { ...ed, kid: 'ed', use: 'sig' },
        { ...rsa, kid: 'rsa' },
        { ...rsaPrivate, kid: 'private' },
        { ...ec, kid: 'enc', use: 'enc' },
        { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
        { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'broken' },
        { kty: 'XYZ', kid: 'future' },
        'not a key',
        null,
      ],
    });
    assert.deepEqual(
      keys.map((k) => k.kid),
      ['ec', 'ed', 'rsa'],
    );
  });

  it('refuses a non-JWKS or one without a usable key', () => {
    for (const body of [
      undefined,
      null,
      [],
      'x',
      { keys: 'x' },
      { keys: [] },
      { keys: [{ kty: 'oct', k: 'AA' }] },
    ]) {
      assert.throws(() => usableKeys(body), /JWK Set/, JSON.stringify(body));
    }
  });
});

describe('maxAgeMs', () => {
  it('reads max-age in ms, and 0 for no-store/no-cache', () => {
    assert.equal(maxAgeMs('max-age=300'), 300_000);
    assert.equal(maxAgeMs('public, max-age=60, must-revalidate'), 60_000);
    assert.equal(maxAgeMs(['public', 'max-age=5']), 5000);
    assert.equal(maxAgeMs('no-store'), 0);
    assert.equal(maxAgeMs('max-age=60, no-cache'), 0);
    assert.equal(maxAgeMs('s-maxage=60'), undefined);
    assert.equal(maxAgeMs('public'), undefined);
    assert.equal(maxAgeMs(undefined), undefined);
    assert.equal(maxAgeMs('max-age=-1'), undefined);
  });
});
