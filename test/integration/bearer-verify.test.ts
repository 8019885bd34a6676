import assert from 'node:assert/strict';
import { createHmac, createPublicKey, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Dispatcher } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import type { GatehouseError } from '../../src/errors.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { type BearerVerifier, createBearerVerifier } from '../../src/tokens/bearer-verifier.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';
import {
  claims,
  issuerConfig,
  machineToken,
  rejectCode,
  signJwt,
  signRaw,
  startServer,
  type TestServer,
} from './bearer-helpers.ts';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('bearer verification against the dev IdP', () => {
  let idp: DevIdp;
  let dispatcher: Dispatcher;
  let verifier: BearerVerifier;
  let es256: JWK;
  let rs256: JWK;
  let attacker: TestServer;

  before(async () => {
    idp = await startDevIdp();
    dispatcher = createOutboundDispatcher({ timeoutMs: 2000 });
    es256 = idp.keys.find((k) => k.alg === 'ES256')!;
    rs256 = idp.keys.find((k) => k.alg === 'RS256')!;
    verifier = createBearerVerifier({
      issuers: [issuerConfig({ issuer: idp.issuer, typ: 'at+jwt', required_claims: ['sub'] })],
      cacheSize: 100,
      dispatcher,
      log: silentLog,
    });
    await verifier.start();
    attacker = await startServer((_req, res) => res.writeHead(200).end('{"keys":[]}'));
  });
  after(async () => {
    verifier.close();
    await idp.close();
    await attacker.close();
    await dispatcher.close();
  });

  it('accepts a client_credentials JWT access token and caches it', async () => {
    assert.equal(verifier.ready, true);
    const token = await machineToken(idp);
    const before = verifier.stats;
    const v = await verifier.verify(token);
    assert.equal(v.issuer, idp.issuer);
    assert.equal(v.claims.aud, 'api://demo');
    assert.equal(v.claims.sub, 'machine');
    assert.equal(v.clientId, 'machine');
    assert.equal(typeof v.expiresAt, 'number');
    assert.match(v.cacheKey, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(Object.isFrozen(v.claims));
    const again = await verifier.verify(token);
    assert.equal(again, v);
    assert.equal(verifier.stats.hits, before.hits + 1);
  });

  it('accepts RS256 and azp as the client id, and application/at+jwt as typ', async () => {
    const token = await signJwt(rs256, claims(idp.issuer, { client_id: undefined, azp: 'web' }), {
      typ: 'application/at+jwt',
    });
    const v = await verifier.verify(token);
    assert.equal(v.clientId, 'web');
  });

  it('refuses a token for another audience', async () => {
    const other = createBearerVerifier({
      issuers: [issuerConfig({ issuer: idp.issuer, audiences: ['api://other'] })],
      cacheSize: 10,
      dispatcher,
      log: silentLog,
    });
    after(() => other.close());
    await assert.rejects(other.verify(await machineToken(idp)), { code: 'audience_mismatch' });
    // and an aud array must contain an accepted audience exactly
    const token = await signJwt(es256, claims(idp.issuer, { aud: ['api://demo/', 'API://DEMO'] }));
    assert.equal(await rejectCode(verifier.verify(token)), 'audience_mismatch');
  });

  it('refuses a foreign issuer without any network call', async () => {
    const fresh = createBearerVerifier({
      issuers: [issuerConfig({ issuer: idp.issuer })],
      cacheSize: 10,
      dispatcher,
      log: silentLog,
    });
    after(() => fresh.close());
    const hitsBefore = new Map(idp.hits);
    for (const iss of [`${idp.issuer}/`, 'https://evil.example', attacker.url, undefined, 42]) {
      const token = await signJwt(es256, claims(idp.issuer, { iss: iss as string }));
      await assert.rejects(fresh.verify(token), (err: GatehouseError) => {
        assert.equal(err.code, 'issuer_mismatch');
        assert.equal(err.message, 'The token issuer is not trusted.');
        return true;
      });
    }
    assert.deepEqual(idp.hits, hitsBefore);
    assert.equal(attacker.hits.size, 0);
    assert.equal(fresh.ready, false);
  });

  it('refuses expired and not-yet-valid tokens (with clock skew)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await signJwt(es256, claims(idp.issuer, { iat: now - 600, exp: now - 60 }));
    await assert.rejects(verifier.verify(expired), {
      code: 'token_expired',
      message: 'The token has expired.',
    });
    // within the default 30 s skew: still fine
    await verifier.verify(await signJwt(es256, claims(idp.issuer, { exp: now - 10 })));
    const nbf = await signJwt(es256, claims(idp.issuer, { nbf: now + 600 }));
    assert.equal(await rejectCode(verifier.verify(nbf)), 'token_not_yet_valid');
    const iat = await signJwt(es256, claims(idp.issuer, { iat: now + 600 }));
    assert.equal(await rejectCode(verifier.verify(iat)), 'token_not_yet_valid');
  });

  it('re-checks exp on a cache hit', async () => {
    const token = await signJwt(es256, claims(idp.issuer));
    const v = await verifier.verify(token);
    const hits = verifier.stats.hits;
    await verifier.verify(token, Date.now());
    assert.equal(verifier.stats.hits, hits + 1);
    assert.equal(await rejectCode(verifier.verify(token, (v.expiresAt + 31) * 1000)), 'token_expired');
  });

  it('requires a numeric exp and the required claims', async () => {
    const noExp = await signJwt(es256, claims(idp.issuer, { exp: undefined }));
    await assert.rejects(verifier.verify(noExp), {
      code: 'missing_claim',
      message: 'claim "exp" is missing',
    });
    const strExp = await signJwt(es256, { ...claims(idp.issuer), exp: '9999999999' as never });
    assert.equal(await rejectCode(verifier.verify(strExp)), 'token_malformed');
    const noSub = await signJwt(es256, claims(idp.issuer, { sub: undefined }));
    await assert.rejects(verifier.verify(noSub), {
      code: 'missing_claim',
      message: 'claim "sub" is missing',
    });
  });

  it('refuses alg none and HS256 signed with the RSA public key', async () => {
    const none = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims(idp.issuer))}.`;
    assert.equal(await rejectCode(verifier.verify(none)), 'alg_not_allowed');
    // Algorithm confusion: the attacker HMACs with the (public) RSA key as the secret.
    const pem = createPublicKey({ key: rs256 as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: rs256.kid })}.${b64(claims(idp.issuer))}`;
    const hs = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    await assert.rejects(verifier.verify(hs), { code: 'alg_not_allowed' });
    const ps = `${b64({ alg: 'PS256', kid: rs256.kid, typ: 'at+jwt' })}.${b64(claims(idp.issuer))}.AAAA`;
    assert.equal(await rejectCode(verifier.verify(ps)), 'alg_not_allowed');
  });

  it('refuses a wrong typ', async () => {
    const jwt = await signJwt(es256, claims(idp.issuer), { typ: 'JWT' });
    await assert.rejects(verifier.verify(jwt), { code: 'typ_mismatch' });
    const none = await signJwt(es256, claims(idp.issuer), { typ: undefined });
    assert.equal(await rejectCode(verifier.verify(none)), 'typ_mismatch');
  });

  it('refuses an unknown kid and a bad signature', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const foreign = { ...(await exportJWK(privateKey)), alg: 'ES256' };
    const unknown = await signJwt({ ...foreign, kid: 'nope' }, claims(idp.issuer));
    await assert.rejects(verifier.verify(unknown), { code: 'unknown_kid' });
    const forged = await signJwt({ ...foreign, kid: es256.kid }, claims(idp.issuer));
    await assert.rejects(verifier.verify(forged), {
      code: 'bad_signature',
      message: 'The token signature is invalid.',
    });
    // a valid token with its payload swapped
    const good = await signJwt(es256, claims(idp.issuer));
    const [h, , s] = good.split('.');
    const tampered = `${h}.${b64(claims(idp.issuer, { sub: 'admin' }))}.${s}`;
    assert.equal(await rejectCode(verifier.verify(tampered)), 'bad_signature');
  });

  it('ignores embedded keys (jwk, jku, x5u, x5c)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = { ...(await exportJWK(privateKey)), alg: 'ES256' };
    const pub = await exportJWK(publicKey);
    const jwksBefore = idp.hits.get('/jwks') ?? 0;
    for (const kid of ['attacker', es256.kid]) {
      const token = await signJwt({ ...priv, kid }, claims(idp.issuer), {
        jwk: pub,
        jku: `${attacker.url}/jwks`,
        x5u: `${attacker.url}/cert.pem`,
        x5c: ['MIIB'],
      });
      const code = await rejectCode(verifier.verify(token));
      assert.equal(code, kid === 'attacker' ? 'unknown_kid' : 'bad_signature');
    }
    assert.equal(attacker.hits.size, 0);
    // the unknown kid may not refetch either: the cooldown has not passed since start()
    assert.equal(idp.hits.get('/jwks') ?? 0, jwksBefore);
  });

  it('refuses crit headers', async () => {
    const token = signRaw(es256, { typ: 'at+jwt', crit: ['urn:x'], 'urn:x': 1 }, claims(idp.issuer));
    await assert.rejects(verifier.verify(token), { code: 'crit_unsupported' });
    // the raw signer itself is sound: the same header without crit verifies
    await verifier.verify(signRaw(es256, { typ: 'at+jwt', 'urn:x': 1 }, claims(idp.issuer)));
  });

  it('refuses malformed and oversized tokens', async () => {
    const good = await signJwt(es256, claims(idp.issuer));
    for (const bad of [
      `${good}.x`,
      `${good} trailing`,
      `${good}=`,
      `${good.split('.')[0]}..${good.split('.')[2]}`,
      `${b64([1])}.${b64(claims(idp.issuer))}.AAAA`,
      `${b64({ alg: 'ES256' })}.${Buffer.from('{"iss":').toString('base64url')}.AAAA`,
      `${b64({ alg: 'ES256' })}.${b64('str')}.AAAA`,
      'a.b',
      '',
    ]) {
      assert.equal(await rejectCode(verifier.verify(bad)), 'token_malformed', bad.slice(-20));
    }
    const huge = await signJwt(es256, claims(idp.issuer, { pad: randomBytes(75_000).toString('base64') }));
    await assert.rejects(verifier.verify(huge), {
      code: 'token_too_large',
      message: 'The token is too large.',
    });
  });

  it('refuses opaque tokens when no issuer introspects', async () => {
    await assert.rejects(verifier.verify('opaque-token-value'), { code: 'token_malformed' });
  });

  it('never caches a failure as valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await signJwt(es256, claims(idp.issuer, { exp: now - 120 }));
    for (let i = 0; i < 3; i++) assert.equal(await rejectCode(verifier.verify(expired)), 'token_expired');
    const hits = verifier.stats.hits;
    await rejectCode(verifier.verify(expired));
    assert.equal(verifier.stats.hits, hits);
  });
});
