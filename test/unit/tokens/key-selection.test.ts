import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JWK } from 'jose';
import { selectKey } from '../../../src/tokens/key-selection.ts';

// Key material is never read by the rule: only the members that select a key matter.
const rsa = (kid: string, extra: Partial<JWK> = {}): JWK => ({
  kty: 'RSA',
  n: 'AQAB',
  e: 'AQAB',
  kid,
  ...extra,
});
const ec = (kid: string, crv = 'P-256', extra: Partial<JWK> = {}): JWK => ({
  kty: 'EC',
  crv,
  x: 'AA',
  y: 'AA',
  kid,
  ...extra,
});
const ed = (kid: string): JWK => ({ kty: 'OKP', crv: 'Ed25519', x: 'AA', kid });

const ambiguous = (count: number) => ({
  name: 'GatehouseError',
  code: 'unknown_kid',
  message: `the token has no "kid" and ${count} keys of the JWK Set fit its "alg"`,
});

describe('selectKey: the header picks exactly one key (OpenID Connect Core §10.1)', () => {
  it('the kid picks its key among several of the same type', () => {
    const keys = [rsa('a'), rsa('b'), ec('c')];
    assert.equal(selectKey(keys, { alg: 'RS256', kid: 'b' }), keys[1]);
  });

  it('without kid, the one key that fits the alg is used', () => {
    const keys = [rsa('a'), ec('b'), ed('c')];
    assert.equal(selectKey(keys, { alg: 'RS256' }), keys[0]);
    assert.equal(selectKey(keys, { alg: 'ES256' }), keys[1]);
    assert.equal(selectKey(keys, { alg: 'EdDSA' }), keys[2]);
    // a key of another curve or pinned to another alg is no candidate, so ES256 stays unambiguous
    assert.equal(
      selectKey([ec('p384', 'P-384'), ec('b'), rsa('ps', { alg: 'PS256' })], { alg: 'ES256' })?.kid,
      'b',
    );
  });

  it('without kid, several keys fitting the alg → unknown_kid', () => {
    assert.throws(() => selectKey([rsa('a'), rsa('b')], { alg: 'RS256' }), ambiguous(2));
    assert.throws(() => selectKey([ec('a'), rsa('b'), ec('c'), ec('d')], { alg: 'ES256' }), ambiguous(3));
    // a key pinned to the alg and one that names no alg both fit it
    assert.throws(() => selectKey([rsa('a', { alg: 'RS256' }), rsa('b')], { alg: 'RS256' }), ambiguous(2));
  });

  it('a kid the JWK Set publishes twice for the alg → unknown_kid', () => {
    assert.throws(() => selectKey([rsa('a'), rsa('a')], { alg: 'RS256', kid: 'a' }), {
      name: 'GatehouseError',
      code: 'unknown_kid',
      message: `2 keys of the JWK Set share the token's "kid"`,
    });
  });

  it('no key fits → undefined (the caller refetches, then refuses)', () => {
    const keys = [
      rsa('a', { alg: 'RS256' }),
      ec('b'),
      rsa('enc', { use: 'enc' }),
      rsa('wrap', { key_ops: ['wrapKey'] }),
    ];
    const cases: Array<[string, Record<string, unknown>]> = [
      ['an unknown kid', { alg: 'RS256', kid: 'nope' }],
      ['a kid of another key type', { alg: 'RS256', kid: 'b' }],
      ['a key pinned to another alg', { alg: 'PS256', kid: 'a' }],
      ['an encryption key', { alg: 'RS256', kid: 'enc' }],
      ['a key without the verify operation', { alg: 'RS256', kid: 'wrap' }],
      ['a curve the alg does not use', { alg: 'ES384', kid: 'b' }],
      ['an algorithm without a key type', { alg: 'HS256', kid: 'a' }],
      ['no alg', { kid: 'a' }],
      ['a kid that is not a string', { alg: 'ES256', kid: 1 }],
    ];
    for (const [name, header] of cases) assert.equal(selectKey(keys, header), undefined, name);
  });
});
