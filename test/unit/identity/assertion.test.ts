import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Config } from '../../../src/config/schema.ts';
import { ASSERTION_TYP, createAssertionSigner, refreshMargin } from '../../../src/identity/assertion.ts';
import type { Identity } from '../../../src/identity/identity.ts';
import { loadSigningKeys, type SigningKeys } from '../../../src/identity/signing-keys.ts';

const ISSUER = 'https://app.example.com';
const AUD = 'http://127.0.0.1:9000';
const T0 = 1_700_000_000_000;
const quiet = { warn: () => assert.fail('unexpected warning') };

function pem(): string {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}
function cfg(over: Partial<Config['identity']['assertion']> = {}): Config['identity']['assertion'] {
  return {
    header: 'X-Gatehouse-Assertion',
    algorithm: 'ES256',
    previous_keys: [],
    ttl: 60_000,
    bind_request: false,
    ...over,
  };
}
function identity(over: Partial<Identity> = {}): Identity {
  return Object.freeze({
    iss: 'https://idp.example.com',
    sub: 'user-1',
    email: 'ada@example.com',
    preferredUsername: 'ada',
    groups: Object.freeze(['eng', 'ops']),
    roles: Object.freeze(['admin']),
    claims: {},
    authType: 'session' as const,
    expiresAt: 4_000_000_000,
    ...over,
  });
}
function clock(start = T0) {
  const c = { t: start, now: () => c.t };
  return c;
}

let keyA: string;
let keys: SigningKeys;
before(async () => {
  keyA = pem();
  keys = await loadSigningKeys(cfg({ key: keyA }), quiet);
});

function signer(over: Partial<Parameters<typeof createAssertionSigner>[0]> = {}) {
  return createAssertionSigner({
    keys,
    issuer: ISSUER,
    ttlMs: 60_000,
    bindRequest: false,
    cacheSize: 100,
    ...over,
  });
}
const verify = (token: string, s: { jwks(): { keys: never[] } | { keys: object[] } }, at = T0) =>
  jwtVerify(token, createLocalJWKSet(s.jwks() as never), {
    issuer: ISSUER,
    audience: AUD,
    typ: ASSERTION_TYP,
    currentDate: new Date(at),
  });

describe('createAssertionSigner', () => {
  it('signs an assertion that verifies against its JWKS, with the identity as claims', async () => {
    const c = clock();
    const s = signer({ now: c.now });
    assert.equal(s.header, 'x-gatehouse-assertion');
    const token = await s.sign(identity(), AUD);
    const { payload, protectedHeader } = await verify(token, s);
    assert.deepEqual(protectedHeader, { alg: 'ES256', kid: keys.current.kid, typ: ASSERTION_TYP });
    assert.deepEqual(payload, {
      iss: ISSUER,
      aud: AUD,
      sub: 'user-1',
      email: 'ada@example.com',
      preferred_username: 'ada',
      groups: ['eng', 'ops'],
      roles: ['admin'],
      auth_type: 'session',
      iat: T0 / 1000,
      exp: T0 / 1000 + 60,
    });
    await assert.rejects(verify(token, s, T0 + 61_000), { code: 'ERR_JWT_EXPIRED' });
  });

  it('omits absent email and username', async () => {
    const payload = decodeJwt(
      await signer().sign(identity({ email: undefined, preferredUsername: undefined }), AUD),
    );
    assert.equal('email' in payload, false);
    assert.equal('preferred_username' in payload, false);
  });

  it('reuses a signed assertion until a quarter of its life (at least 15 s) remains', async () => {
    const c = clock();
    const s = signer({ now: c.now });
    const first = await s.sign(identity(), AUD);
    c.t = T0 + 44_999;
    assert.equal(await s.sign(identity(), AUD), first);
    assert.deepEqual(s.stats, { hits: 1, misses: 1, coalesced: 0 });
    c.t = T0 + 45_000;
    const second = await s.sign(identity(), AUD);
    assert.notEqual(second, first);
    assert.equal(decodeJwt(second).iat, (T0 + 45_000) / 1000);
    assert.deepEqual(s.stats, { hits: 1, misses: 2, coalesced: 0 });
    assert.equal(refreshMargin(300_000), 75_000);
    assert.equal(refreshMargin(20_000), 10_000, 'capped at half the lifetime');
  });

  it('never shares an assertion between different identities or audiences', async () => {
    const s = signer({ now: clock().now });
    const variants: [Identity, string][] = [
      [identity(), AUD],
      [identity(), 'http://127.0.0.1:9001'],
      [identity({ sub: 'user-2' }), AUD],
      [identity({ iss: 'https://other-idp.example.com' }), AUD],
      [identity({ email: 'eve@example.com' }), AUD],
      [identity({ email: undefined }), AUD],
      [identity({ preferredUsername: 'eve' }), AUD],
      [identity({ groups: ['eng'] }), AUD],
      [identity({ groups: ['eng,ops'] }), AUD],
      [identity({ groups: ['ops', 'eng'] }), AUD],
      [identity({ roles: [] }), AUD],
      [identity({ roles: ['admin', 'eng'] }), AUD],
      [identity({ authType: 'bearer' }), AUD],
      [identity({ expiresAt: T0 / 1000 + 30 }), AUD],
    ];
    const tokens = new Set<string>();
    for (const [id, aud] of variants) {
      const token = await s.sign(id, aud);
      tokens.add(token);
      const p = decodeJwt(token);
      assert.equal(p.aud, aud);
      assert.equal(p.sub, id.sub);
      assert.equal(p.email, id.email);
      assert.equal(p.preferred_username, id.preferredUsername);
      assert.deepEqual(p.groups, id.groups);
      assert.deepEqual(p.roles, id.roles);
      assert.equal(p.auth_type, id.authType);
    }
    assert.equal(tokens.size, variants.length);
    assert.equal(s.stats.hits, 0);
  });

  it('does not trust a memo for an identity that is not frozen', async () => {
    const s = signer();
    const groups = ['eng'];
    const mutable = { ...identity(), groups } as Identity;
    const first = decodeJwt(await s.sign(mutable, AUD));
    groups.push('admin');
    const second = decodeJwt(await s.sign(mutable, AUD));
    assert.deepEqual(first.groups, ['eng']);
    assert.deepEqual(second.groups, ['eng', 'admin']);
  });

  it('never outlives the identity, and refuses an expired one', async () => {
    const c = clock();
    const s = signer({ now: c.now });
    const expiresAt = T0 / 1000 + 10;
    const token = await s.sign(identity({ expiresAt }), AUD);
    assert.equal(decodeJwt(token).exp, expiresAt);
    c.t = T0 + 5_000;
    assert.notEqual(await s.sign(identity({ expiresAt }), AUD), token, 'reused for at most half of 10 s');
    c.t = T0 + 10_000;
    await assert.rejects(s.sign(identity({ expiresAt }), AUD), {
      name: 'GatehouseError',
      code: 'session_expired',
    });
    await assert.rejects(s.sign(identity({ expiresAt, authType: 'bearer' }), AUD), { code: 'token_expired' });
  });

  it('shares one in-flight signing between concurrent misses for the same key', async () => {
    const s = signer();
    const tokens = await Promise.all(Array.from({ length: 5 }, () => s.sign(identity(), AUD)));
    assert.equal(new Set(tokens).size, 1);
    assert.deepEqual(s.stats, { hits: 0, misses: 1, coalesced: 4 });
    await s.sign(identity(), AUD);
    assert.equal(s.stats.hits, 1);
  });

  it('with cacheSize 0 signs every time', async () => {
    const c = clock();
    const s = signer({ cacheSize: 0, now: c.now });
    await s.sign(identity(), AUD);
    await s.sign(identity(), AUD);
    assert.deepEqual(s.stats, { hits: 0, misses: 2, coalesced: 0 });
  });

  it('bind_request adds htm, htu (no query or fragment) and jti, and signs per request', async () => {
    const s = signer({ bindRequest: true });
    const request = { method: 'post', url: 'https://app.example.com/orders/7?token=secret#frag' };
    const one = await s.sign(identity(), AUD, request);
    const two = await s.sign(identity(), AUD, request);
    assert.notEqual(one, two);
    const p1 = (await verify(one, s, Date.now())).payload;
    const p2 = decodeJwt(two);
    assert.equal(p1.htm, 'POST');
    assert.equal(p1.htu, 'https://app.example.com/orders/7');
    assert.match(String(p1.jti), /^[0-9a-f-]{36}$/);
    assert.notEqual(p1.jti, p2.jti);
    const other = decodeJwt(
      await s.sign(identity(), AUD, { method: 'GET', url: 'https://app.example.com/x' }),
    );
    assert.deepEqual([other.htm, other.htu], ['GET', 'https://app.example.com/x']);
    assert.deepEqual(s.stats, { hits: 0, misses: 3, coalesced: 0 });
    await assert.rejects(s.sign(identity(), AUD), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(s.sign(identity(), AUD, { method: 'GET', url: '/relative' }), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });

  it('an assertion signed with the old key still verifies after rotation', async () => {
    const old = signer();
    const token = await old.sign(identity(), AUD);
    const rotated = await loadSigningKeys(cfg({ key: pem(), previous_keys: [keyA] }), quiet);
    const s = signer({ keys: rotated });
    assert.notEqual(rotated.current.kid, keys.current.kid);
    assert.equal((await verify(token, s, Date.now())).protectedHeader.kid, keys.current.kid);
    const fresh = await s.sign(identity(), AUD);
    assert.equal(decodeProtectedHeader(fresh).kid, rotated.current.kid);
    // without the previous key, the old assertion is refused
    const forgotten = signer({ keys: await loadSigningKeys(cfg({ key: pem() }), quiet) });
    await assert.rejects(verify(token, forgotten, Date.now()), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('checks its options', () => {
    for (const over of [
      { ttlMs: 300_001 },
      { ttlMs: 0 },
      { issuer: '' },
      { header: 'bad header' },
      { cacheSize: -1 },
    ]) {
      assert.throws(() => signer(over), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    }
  });
});
