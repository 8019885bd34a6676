import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TOKEN_LENGTH, parseToken, typMatches } from '../../../src/tokens/token-shape.ts';

const seg = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('parseToken', () => {
  it('parses a JWT header and payload without verifying', () => {
    const parsed = parseToken(`${seg({ alg: 'ES256', kid: 'k' })}.${seg({ iss: 'https://i' })}.c2ln`);
    assert.deepEqual(parsed, {
      kind: 'jwt',
      header: { alg: 'ES256', kid: 'k' },
      payload: { iss: 'https://i' },
    });
  });

  it('allows an empty signature, for the algorithm check to name', () => {
    assert.equal(parseToken(`${seg({ alg: 'none' })}.${seg({})}.`).kind, 'jwt');
  });

  it('classifies a dotless token68 as opaque', () => {
    assert.deepEqual(parseToken('2YotnFZFEjr1zCsicMWpAA'), { kind: 'opaque' });
    assert.throws(() => parseToken('has space'), { code: 'token_malformed' });
  });

  it('refuses anything else as malformed', () => {
    const h = seg({ alg: 'ES256' });
    const p = seg({ iss: 'x' });
    for (const bad of [
      '',
      `${h}.${p}`,
      `${h}.${p}.s.x`,
      `${h}..s`,
      `.${p}.s`,
      `${h}.${p}.s+g`,
      `${h}.${p}.a`, // 1 mod 4: no encoder produces this
      `${seg('[1]')}.${p}.s`,
      `${seg('null')}.${p}.s`,
      `${h}.${seg('"str"')}.s`,
      `${h}.${seg('{"iss":')}.s`,
      `${h}=.${p}.s`,
    ]) {
      assert.throws(() => parseToken(bad), { code: 'token_malformed' }, bad);
    }
  });

  it(`refuses tokens over ${MAX_TOKEN_LENGTH} characters before parsing`, () => {
    assert.throws(() => parseToken('a'.repeat(MAX_TOKEN_LENGTH + 1)), { code: 'token_too_large' });
    assert.equal(parseToken('a'.repeat(MAX_TOKEN_LENGTH)).kind, 'opaque');
  });
});

describe('typMatches', () => {
  it('compares media types case-insensitively, application/ optional (RFC 9068)', () => {
    assert.equal(typMatches('at+jwt', 'at+jwt'), true);
    assert.equal(typMatches('application/at+jwt', 'at+jwt'), true);
    assert.equal(typMatches('AT+JWT', 'application/at+jwt'), true);
    assert.equal(typMatches('JWT', 'at+jwt'), false);
    assert.equal(typMatches('text/at+jwt', 'at+jwt'), false);
    assert.equal(typMatches(undefined, 'at+jwt'), false);
    assert.equal(typMatches(['at+jwt'], 'at+jwt'), false);
  });
});
