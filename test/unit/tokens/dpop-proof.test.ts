import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { GatehouseError } from '../../../src/errors.ts';
import { normalizeHtu, requestHtu } from '../../../src/tokens/dpop-htu.ts';
import { DpopNonces, NONCE_LIFETIME_MS } from '../../../src/tokens/dpop-nonce.ts';
import { accessTokenHash, DpopProofVerifier, jwkThumbprint } from '../../../src/tokens/dpop-proof.ts';
import { extractDpop } from '../../../src/tokens/extract-dpop.ts';
import { dpopKey, proof } from '../../helpers/dpop.ts';

const URL_ = 'https://api.example.com/agents/run';
const TOKEN = 'header.payload.signature';
const ALGS = new Set(['ES256', 'EdDSA', 'RS256', 'PS256']);

function request(extra: Record<string, unknown> = {}) {
  return {
    method: 'GET',
    url: URL_,
    accessToken: TOKEN,
    algorithms: ALGS,
    maxAge: 60,
    skew: 5,
    now: Date.now(),
    ...extra,
  };
}

function refusedWith(code: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof GatehouseError);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('DPoP proof verification', () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) {
    it(`accepts a ${alg} proof and returns the RFC 7638 thumbprint jose computes`, async () => {
      const key = await dpopKey(alg);
      const verifier = new DpopProofVerifier();
      const p = await proof(key, 'GET', URL_, { accessToken: TOKEN });
      const got = verifier.verify(p, request());
      assert.equal(got.jkt, key.jkt);
      assert.equal(got.jkt, await calculateJwkThumbprint(key.publicJwk, 'sha256'));
      // the second proof by the same key takes the cached KeyObject
      assert.equal(
        verifier.verify(await proof(key, 'GET', URL_, { accessToken: TOKEN }), request()).jkt,
        key.jkt,
      );
    });
  }

  it('refuses an alg outside the allow-list, and a key of another type than the alg', async () => {
    const es = await dpopKey('ES256');
    const rsa = await dpopKey('RS256');
    const v = new DpopProofVerifier();
    assert.throws(() => v.verify('not-a-jws', request()), refusedWith('dpop_proof_invalid', /compact JWS/));
    const p = await proof(es, 'GET', URL_, { accessToken: TOKEN });
    assert.throws(
      () => v.verify(p, request({ algorithms: new Set(['RS256']) })),
      refusedWith('dpop_proof_invalid', /"alg"/),
    );
    // an RSA jwk in a proof claiming ES256: never verified with a key the alg is not for
    const mixed = await proof(es, 'GET', URL_, { accessToken: TOKEN, header: { jwk: rsa.publicJwk } });
    assert.throws(() => v.verify(mixed, request()), refusedWith('dpop_proof_invalid', /does not fit/));
  });

  it('refuses future and stale iat, a wrong htm, htu or ath, a missing jti', async () => {
    const key = await dpopKey('ES256');
    const v = new DpopProofVerifier();
    const now = Math.floor(Date.now() / 1000);
    const cases: [Record<string, unknown>, RegExp, string?][] = [
      [{ iat: now + 60 }, /future/],
      [{ iat: now - 70 }, /too old/],
      [{ jti: undefined }, /"jti"/],
      [{ htm: 'get' }, /"htm"/],
      [{ htu: 'https://api.example.com/agents/other' }, /"htu"/],
      [{ ath: accessTokenHash('another') }, /"ath"/],
    ];
    for (const [claims, message] of cases) {
      const p = await proof(key, 'GET', URL_, { accessToken: TOKEN, claims });
      assert.throws(
        () => v.verify(p, request()),
        refusedWith('dpop_proof_invalid', message),
        JSON.stringify(claims),
      );
    }
    // within max_age + skew
    const ok = await proof(key, 'GET', URL_, { accessToken: TOKEN, claims: { iat: now - 63 } });
    assert.equal(v.verify(ok, request()).jti.length > 0, true);
  });

  it('a nonce is checked last, and only when demanded', async () => {
    const key = await dpopKey('ES256');
    const v = new DpopProofVerifier();
    const p = await proof(key, 'GET', URL_, { accessToken: TOKEN, nonce: 'n-1' });
    assert.throws(
      () => v.verify(p, request({ nonceValid: (n: unknown) => n === 'n-2' })),
      refusedWith('dpop_nonce_required'),
    );
    assert.ok(v.verify(p, request({ nonceValid: (n: unknown) => n === 'n-1' })));
    const bad = await proof(key, 'POST', URL_, { accessToken: TOKEN });
    assert.throws(
      () => v.verify(bad, request({ nonceValid: () => false })),
      refusedWith('dpop_proof_invalid'),
    );
  });

  it('thumbprints need the RFC 7638 members', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    assert.equal(jwkThumbprint(jwk as never), await calculateJwkThumbprint(jwk));
    assert.equal(jwkThumbprint({ ...jwk, y: undefined } as never), undefined);
    assert.equal(jwkThumbprint({ kty: 'oct', k: 'AAAA' }), undefined);
  });
});

describe('DPoP htu normal form (RFC 9449 §4.3, RFC 3986 §6.2)', () => {
  it('normalizes scheme, host, default port, percent-encoding and dot-segments; drops query and fragment', () => {
    const want = 'https://api.example.com/agents/run';
    for (const htu of [
      'https://api.example.com/agents/run',
      'HTTPS://API.Example.COM:443/agents/run',
      'https://api.example.com/agents/./x/../r%75n?q=1#frag',
    ])
      assert.equal(normalizeHtu(htu), want, htu);
    assert.equal(requestHtu('https', 'api.example.com:443', '/agents/run'), want);
    assert.equal(requestHtu('http', 'api.example.com:8080', '/a'), 'http://api.example.com:8080/a');
    assert.notEqual(normalizeHtu('https://api.example.com/Agents/run'), want);
  });
  it('refuses what is not an absolute http(s) URL', () => {
    for (const htu of [
      '/agents/run',
      'ftp://api.example.com/x',
      'https://user:pw@api.example.com/',
      42,
      undefined,
    ])
      assert.equal(normalizeHtu(htu), undefined, String(htu));
  });
});

describe('DPoP server nonces', () => {
  const secret = 'a-nonce-secret-of-at-least-32-characters!';
  it('replicas with the same secret accept each other’s nonces; others do not', () => {
    const a = new DpopNonces([secret]);
    const b = new DpopNonces([secret]);
    const n = a.issue();
    assert.equal(b.valid(n), true);
    assert.equal(new DpopNonces(['another-secret-of-at-least-32-characters']).valid(n), false);
    // rotation: the old secret still accepts
    assert.equal(new DpopNonces(['the-new-secret-of-at-least-32-characters', secret]).valid(n), true);
  });
  it('expire after their lifetime and refuse forgeries', () => {
    const a = new DpopNonces([secret]);
    const t = Date.now();
    const n = a.issue(t);
    assert.equal(a.valid(n, t + NONCE_LIFETIME_MS - 1000), true);
    assert.equal(a.valid(n, t + NONCE_LIFETIME_MS + 1000), false);
    assert.equal(a.valid(`${n.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`, t), false);
    assert.equal(a.valid(undefined, t), false);
    assert.equal(a.valid('x'.repeat(100), t), false);
  });
});

describe('extractDpop', () => {
  it('reads the DPoP scheme strictly', () => {
    assert.equal(extractDpop('DPoP abc'), 'abc');
    assert.equal(extractDpop('dpop abc'), 'abc');
    assert.equal(extractDpop('Bearer abc'), undefined);
    assert.equal(extractDpop('DPoPx abc'), undefined);
    assert.equal(extractDpop(undefined), undefined);
    assert.throws(() => extractDpop('DPoP'), refusedWith('token_malformed'));
    assert.throws(() => extractDpop('DPoP  abc'), refusedWith('token_malformed'));
  });
});

describe('bearer[].dpop config keys', () => {
  it('defaults to off with the RFC 9449 asymmetric algorithms, and refuses HS* and none', async () => {
    const { bearerIssuerSchema } = await import('../../../src/config/schema.ts');
    const base = { issuer: 'https://idp.example.com', audiences: ['api://x'] };
    const cfg = bearerIssuerSchema.parse(base);
    assert.equal(cfg.dpop, 'off');
    assert.deepEqual(cfg.dpop_algorithms, ['ES256', 'EdDSA', 'RS256', 'PS256']);
    assert.equal(cfg.dpop_max_age, 60_000);
    assert.equal(cfg.dpop_nonce, false);
    for (const alg of ['HS256', 'none']) {
      const r = bearerIssuerSchema.safeParse({ ...base, dpop: 'required', dpop_algorithms: [alg] });
      assert.equal(r.success, false, alg);
    }
    assert.equal(bearerIssuerSchema.safeParse({ ...base, dpop: 'sometimes' }).success, false);
    assert.equal(bearerIssuerSchema.safeParse({ ...base, dpop_nonce_secrets: ['short'] }).success, false);
  });
});
