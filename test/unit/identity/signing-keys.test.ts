import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, compactVerify, createLocalJWKSet, SignJWT } from 'jose';
import type { Config } from '../../../src/config/schema.ts';
import { loadSigningKeys } from '../../../src/identity/signing-keys.ts';

type AssertionConfig = Config['identity']['assertion'];

function cfg(over: Partial<AssertionConfig> = {}): AssertionConfig {
  return {
    header: 'X-Gatehouse-Assertion',
    algorithm: 'ES256',
    previous_keys: [],
    ttl: 60_000,
    bind_request: false,
    ...over,
  };
}

function recorder() {
  const warnings: { obj: object; msg: string }[] = [];
  return { warnings, log: { warn: (obj: object, msg: string) => warnings.push({ obj, msg }) } };
}
const quiet = { warn: () => assert.fail('unexpected warning') };

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const jwkOf = (k: KeyObject, extra: object = {}) =>
  JSON.stringify({ ...k.export({ format: 'jwk' }), ...extra });
const pemOf = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Signs with the loaded key and verifies against the published JWKS. */
async function roundTrip(keys: Awaited<ReturnType<typeof loadSigningKeys>>) {
  const { alg, kid, key } = keys.current;
  const jws = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg, kid }).sign(key);
  return compactVerify(jws, createLocalJWKSet(keys.jwks()));
}

describe('loadSigningKeys', () => {
  it('loads a private JWK; kid defaults to the RFC 7638 thumbprint', async () => {
    const keys = await loadSigningKeys(cfg({ key: jwkOf(ec) }), quiet);
    const thumbprint = await calculateJwkThumbprint(ec.export({ format: 'jwk' }) as never);
    assert.equal(keys.current.kid, thumbprint);
    assert.equal(keys.current.alg, 'ES256');
    assert.equal(keys.current.key.extractable, false);
    assert.equal(keys.generated, false);
    const { keys: published } = keys.jwks();
    assert.equal(published.length, 1);
    assert.deepEqual(Object.keys(published[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal((await roundTrip(keys)).protectedHeader.kid, thumbprint);
  });

  it("keeps the JWK's own kid", async () => {
    const keys = await loadSigningKeys(cfg({ key: jwkOf(ec, { kid: 'k-2024', alg: 'ES256' }) }), quiet);
    assert.equal(keys.current.kid, 'k-2024');
    assert.equal(keys.jwks().keys[0]!.kid, 'k-2024');
  });

  it('loads a PKCS#8 PEM for each algorithm, with surrounding whitespace', async () => {
    for (const [alg, key] of [
      ['ES256', ec],
      ['EdDSA', ed],
      ['RS256', rsa],
    ] as const) {
      const keys = await loadSigningKeys(cfg({ algorithm: alg, key: `\n${pemOf(key)}\n` }), quiet);
      assert.equal(keys.current.alg, alg);
      await roundTrip(keys);
      for (const member of PRIVATE_MEMBERS) assert.equal(member in keys.jwks().keys[0]!, false, member);
    }
  });

  it('refuses a key that does not fit the algorithm, naming the key', async () => {
    await assert.rejects(loadSigningKeys(cfg({ algorithm: 'ES256', key: pemOf(rsa) }), quiet), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: '"identity.assertion.key" is a 2048-bit rsa key; ES256 needs an EC P-256 key',
    });
    await assert.rejects(loadSigningKeys(cfg({ algorithm: 'EdDSA', key: jwkOf(ec) }), quiet), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: '"identity.assertion.key" is an EC prime256v1 key; EdDSA needs an Ed25519 key',
    });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    await assert.rejects(loadSigningKeys(cfg({ key: pemOf(p384) }), quiet), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    await assert.rejects(loadSigningKeys(cfg({ algorithm: 'RS256', key: pemOf(small) }), quiet), {
      message: '"identity.assertion.key" is a 1024-bit rsa key; RS256 needs an RSA key of at least 2048 bits',
    });
    await assert.rejects(loadSigningKeys(cfg({ key: jwkOf(ec, { alg: 'ES384' }) }), quiet), {
      message: '"identity.assertion.key" has "alg": "ES384" but identity.assertion.algorithm is ES256',
    });
  });

  it('refuses public, symmetric and unreadable keys without echoing key material', async () => {
    const { d, ...pub } = ec.export({ format: 'jwk' });
    const cases: [string, RegExp][] = [
      [JSON.stringify(pub), /is a public key/],
      [JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }), /symmetric/],
      [`{"kty":"EC","d":"${d}"`, /not valid JSON/],
      [JSON.stringify({ kty: 'EC', crv: 'P-256', d, x: 'AA', y: 'AA' }), /not a usable JWK/],
      ['not a key', /neither a private JWK/],
    ];
    for (const [key, message] of cases) {
      const err = await loadSigningKeys(cfg({ key }), quiet).then(
        () => assert.fail('accepted'),
        (e: Error) => e,
      );
      assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE');
      assert.match(err.message, message);
      assert.equal(err.message.includes(d!), false, 'the private key never appears in the message');
      assert.equal(err.cause, undefined);
    }
  });

  it('publishes previous keys (private or public, PEM or JWK) so old assertions still verify', async () => {
    const oldKeys = await loadSigningKeys(cfg({ algorithm: 'EdDSA', key: pemOf(ed) }), quiet);
    const oldToken = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'EdDSA', kid: oldKeys.current.kid })
      .sign(oldKeys.current.key);
    const rsaPublicPem = createPublicKey(rsa).export({ type: 'spki', format: 'pem' }).toString();
    const keys = await loadSigningKeys(
      cfg({ key: jwkOf(ec), previous_keys: [pemOf(ed), rsaPublicPem] }),
      quiet,
    );
    const published = keys.jwks().keys;
    assert.deepEqual(
      published.map((k) => k.alg),
      ['ES256', 'EdDSA', 'RS256'],
    );
    assert.equal(published[1]!.kid, oldKeys.current.kid);
    for (const jwk of published) for (const m of PRIVATE_MEMBERS) assert.equal(m in jwk, false);
    const { protectedHeader } = await compactVerify(oldToken, createLocalJWKSet(keys.jwks()));
    assert.equal(protectedHeader.alg, 'EdDSA');
  });

  it('skips a previous key equal to the current one; refuses a different key under a used kid', async () => {
    const same = await loadSigningKeys(cfg({ key: jwkOf(ec), previous_keys: [pemOf(ec)] }), quiet);
    assert.equal(same.jwks().keys.length, 1);
    await assert.rejects(
      loadSigningKeys(cfg({ key: jwkOf(ec, { kid: 'a' }), previous_keys: [jwkOf(ed, { kid: 'a' })] }), quiet),
      {
        code: 'ERR_INVALID_ARG_VALUE',
        message:
          '"identity.assertion.previous_keys[0]" has kid "a", which another assertion key already uses',
      },
    );
  });

  it('generates a key and warns loudly when none is configured', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { warnings, log } = recorder();
      const keys = await loadSigningKeys(cfg({ algorithm: alg }), log);
      assert.equal(keys.generated, true);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!.msg, /replica/);
      assert.deepEqual(warnings[0]!.obj, { alg, kid: keys.current.kid });
      assert.equal(keys.current.kid, await calculateJwkThumbprint(keys.jwks().keys[0]!));
      await roundTrip(keys);
    }
  });

  it('jwks() hands out copies', async () => {
    const keys = await loadSigningKeys(cfg({ key: jwkOf(ec) }), quiet);
    keys.jwks().keys[0]!.kid = 'mutated';
    assert.equal(keys.jwks().keys[0]!.kid, keys.current.kid);
  });
});
