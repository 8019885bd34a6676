/**
 * DPoP (RFC 9449) end to end: a real oidc-provider issues a DPoP-bound client-credentials JWT
 * (`cnf.jkt`), and a real Gatehouse with `dpop: required` accepts it only with a valid proof of
 * that key for this very request. Every way a proof can be wrong gets its reason code and the
 * `WWW-Authenticate: DPoP` challenge; nonces and replay detection work across two replicas that
 * share a real redis-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSecret } from 'jose';
import { request } from 'undici';
import { stringify } from 'yaml';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { clientCredentialsToken, type DpopKey, dpopKey, proof } from '../helpers/dpop.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

const NONCE_SECRET = 'dpop-nonce-secret-shared-by-replicas-0123456789';

function config(issuer: string, upstream: string, extra: { store?: string; nonce?: boolean } = {}): string {
  return stringify({
    bearer: [
      {
        issuer,
        audiences: ['api://demo'],
        algorithms: ['ES256', 'RS256'],
        dpop: 'required',
        ...(extra.nonce ? { dpop_nonce: true, dpop_nonce_secrets: [NONCE_SECRET] } : {}),
      },
    ],
    ...(extra.store ? { store: extra.store } : {}),
    routes: [
      {
        name: 'agents',
        match: { path: '/agents' },
        upstream,
        auth: ['bearer'],
        policy: { allow: [{ auth_types: ['dpop'] }] },
      },
    ],
  });
}

interface Answer {
  status: number;
  challenge: string[];
  nonce: string | undefined;
  requestId: string;
}

async function call(
  base: string,
  path: string,
  authorization: string | undefined,
  dpop?: string | string[],
  method = 'GET',
): Promise<Answer> {
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: {
      accept: 'application/json',
      ...(authorization ? { authorization } : {}),
      ...(dpop !== undefined ? { dpop } : {}),
    },
  });
  await res.body.dump();
  const www = res.headers['www-authenticate'];
  return {
    status: res.statusCode,
    challenge: www === undefined ? [] : Array.isArray(www) ? www : [www],
    nonce: res.headers['dpop-nonce'] as string | undefined,
    requestId: res.headers['x-request-id'] as string,
  };
}

function dpopChallenge(a: Answer): string {
  const c = a.challenge.find((v) => v.startsWith('DPoP'));
  assert.ok(c, `a DPoP challenge in ${JSON.stringify(a.challenge)}`);
  return c;
}

describe('DPoP-bound tokens through Gatehouse', () => {
  let idp: DevIdp;
  let upstream: EchoUpstream;
  let gh: TestGatehouse;
  let key: DpopKey;
  let token: string;
  const url = () => `${gh.url}/agents/run`;

  before(async () => {
    idp = await startDevIdp();
    upstream = await startEchoUpstream();
    gh = await startTestGatehouse(config(idp.issuer, upstream.url));
    await gh.ready();
    key = await dpopKey('ES256');
    token = await clientCredentialsToken(idp, key);
  });
  after(async () => {
    await gh?.close();
    await Promise.all([idp?.close(), upstream?.close()]);
  });

  async function reasonOf(a: Answer): Promise<unknown> {
    return (await gh.auditLine((l) => l.request_id === a.requestId)).reason;
  }

  it('the IdP bound the token to the key (cnf.jkt)', () => {
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
      cnf?: { jkt?: string };
    };
    assert.equal(payload.cnf?.jkt, key.jkt);
  });

  it('a valid proof passes, and auth_types: [dpop] matches', async () => {
    const a = await call(
      gh.url,
      '/agents/run',
      `DPoP ${token}`,
      await proof(key, 'GET', url(), { accessToken: token }),
    );
    assert.equal(a.status, 200);
    const line = await gh.auditLine((l) => l.request_id === a.requestId);
    assert.equal(line.decision, 'allow');
    assert.equal(line.auth_type, 'dpop');
    // Warm: a second request with a fresh proof passes too (verified-token cache + one proof check).
    const b = await call(
      gh.url,
      '/agents/run',
      `DPoP ${token}`,
      await proof(key, 'GET', url(), { accessToken: token }),
    );
    assert.equal(b.status, 200);
  });

  it('htu is compared in normal form and without the query', async () => {
    const htu = `${gh.url.replace('http://', 'HTTP://')}/agents/./%72un?x=1#f`;
    const a = await call(
      gh.url,
      '/agents/run?y=2',
      `DPoP ${token}`,
      await proof(key, 'GET', htu, { accessToken: token }),
    );
    assert.equal(a.status, 200);
  });

  const failures: [
    string,
    string,
    (k: DpopKey) => Promise<{ auth: string; dpop?: string | string[]; method?: string }>,
  ][] = [
    ['no proof', 'dpop_proof_missing', async () => ({ auth: `DPoP ${token}` })],
    [
      'two proofs',
      'dpop_proof_missing',
      async (k) => ({
        auth: `DPoP ${token}`,
        dpop: [
          await proof(k, 'GET', url(), { accessToken: token }),
          await proof(k, 'GET', url(), { accessToken: token }),
        ],
      }),
    ],
    [
      'wrong method',
      'dpop_proof_invalid',
      async (k) => ({ auth: `DPoP ${token}`, dpop: await proof(k, 'POST', url(), { accessToken: token }) }),
    ],
    [
      'wrong URL',
      'dpop_proof_invalid',
      async (k) => ({
        auth: `DPoP ${token}`,
        dpop: await proof(k, 'GET', `${gh.url}/agents/other`, { accessToken: token }),
      }),
    ],
    [
      'stale iat',
      'dpop_proof_invalid',
      async (k) => ({
        auth: `DPoP ${token}`,
        dpop: await proof(k, 'GET', url(), {
          accessToken: token,
          claims: { iat: Math.floor(Date.now() / 1000) - 600 },
        }),
      }),
    ],
    [
      'wrong ath',
      'dpop_proof_invalid',
      async (k) => ({
        auth: `DPoP ${token}`,
        dpop: await proof(k, 'GET', url(), { accessToken: 'another' }),
      }),
    ],
    [
      'typ not dpop+jwt',
      'dpop_proof_invalid',
      async (k) => ({
        auth: `DPoP ${token}`,
        dpop: await proof(k, 'GET', url(), { accessToken: token, header: { typ: 'JWT' } }),
      }),
    ],
    [
      'an HS256 proof',
      'dpop_proof_invalid',
      async (k) => ({
        auth: `DPoP ${token}`,
        dpop: await proof(k, 'GET', url(), {
          accessToken: token,
          header: { alg: 'HS256' },
          signWith: (await generateSecret('HS256', { extractable: true })) as never,
        }),
      }),
    ],
    [
      'a jwk with its private parts',
      'dpop_proof_invalid',
      async (k) => ({
        auth: `DPoP ${token}`,
        dpop: await proof(k, 'GET', url(), { accessToken: token, header: { jwk: k.privateJwk } }),
      }),
    ],
    [
      'a proof signed by another key than the jwk',
      'dpop_proof_invalid',
      async (k) => ({
        auth: `DPoP ${token}`,
        dpop: await proof(k, 'GET', url(), {
          accessToken: token,
          signWith: (await dpopKey('ES256')).privateKey,
        }),
      }),
    ],
    [
      'a valid proof by another key than cnf.jkt',
      'dpop_binding_mismatch',
      async () => ({
        auth: `DPoP ${token}`,
        dpop: await proof(await dpopKey('ES256'), 'GET', url(), { accessToken: token }),
      }),
    ],
  ];
  for (const [name, reason, make] of failures) {
    it(`refuses ${name}: ${reason}`, async () => {
      const r = await make(key);
      const a = await call(gh.url, '/agents/run', r.auth, r.dpop);
      assert.equal(a.status, 401);
      assert.equal(await reasonOf(a), reason);
      assert.match(
        dpopChallenge(a),
        /^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="ES256 EdDSA RS256 PS256"$/,
      );
    });
  }

  it('refuses a replayed proof: dpop_proof_replayed', async () => {
    const p = await proof(key, 'GET', url(), { accessToken: token });
    assert.equal((await call(gh.url, '/agents/run', `DPoP ${token}`, p)).status, 200);
    const again = await call(gh.url, '/agents/run', `DPoP ${token}`, p);
    assert.equal(again.status, 401);
    assert.equal(await reasonOf(again), 'dpop_proof_replayed');
    assert.match(dpopChallenge(again), /error="invalid_dpop_proof"/);
  });

  it('refuses the bound token sent as Bearer: dpop_bound_token_as_bearer', async () => {
    const a = await call(gh.url, '/agents/run', `Bearer ${token}`);
    assert.equal(a.status, 401);
    assert.equal(await reasonOf(a), 'dpop_bound_token_as_bearer');
    assert.match(dpopChallenge(a), /^DPoP error="invalid_token"/);
  });

  it('refuses an unbound token on a dpop: required issuer: dpop_required', async () => {
    const plain = await clientCredentialsToken(idp);
    const a = await call(gh.url, '/agents/run', `Bearer ${plain}`);
    assert.equal(a.status, 401);
    assert.equal(await reasonOf(a), 'dpop_required');
    assert.match(dpopChallenge(a), /^DPoP error="invalid_token"/);
    // With the DPoP scheme and a valid proof it is still not bound to that key.
    const b = await call(
      gh.url,
      '/agents/run',
      `DPoP ${plain}`,
      await proof(key, 'GET', url(), { accessToken: plain }),
    );
    assert.equal(await reasonOf(b), 'dpop_binding_mismatch');
  });

  it('a 401 without credentials advertises only the DPoP scheme and its algs', async () => {
    const a = await call(gh.url, '/agents/run', undefined);
    assert.equal(a.status, 401);
    assert.deepEqual(a.challenge, ['DPoP algs="ES256 EdDSA RS256 PS256"']);
  });
});

describe('dpop: allowed, behind a TLS terminator named by public_url', () => {
  let idp: DevIdp;
  let upstream: EchoUpstream;
  let gh: TestGatehouse;

  before(async () => {
    idp = await startDevIdp();
    upstream = await startEchoUpstream();
    gh = await startTestGatehouse(
      stringify({
        // The client speaks https to a terminator in front (not a trusted proxy): public_url says so.
        server: { public_url: 'https://127.0.0.1:{{PORT}}' },
        bearer: [
          { issuer: idp.issuer, audiences: ['api://demo'], algorithms: ['ES256', 'RS256'], dpop: 'allowed' },
        ],
        routes: [
          {
            name: 'bound',
            match: { path: '/api/bound' },
            upstream: upstream.url,
            auth: ['bearer'],
            policy: { allow: [{ auth_types: ['dpop'] }] },
          },
          {
            name: 'any',
            match: { path: '/api/any' },
            upstream: upstream.url,
            auth: ['bearer'],
            policy: { allow: [{ auth_types: ['bearer'] }] },
          },
        ],
      }),
    );
    await gh.ready();
  });
  after(async () => {
    await gh?.close();
    await Promise.all([idp?.close(), upstream?.close()]);
  });

  it('takes a plain token as bearer, a bound one with its proof as dpop, and offers both challenges', async () => {
    const plain = await clientCredentialsToken(idp);
    assert.equal((await call(gh.url, '/api/any', `Bearer ${plain}`)).status, 200);
    const unproven = await call(gh.url, '/api/bound', `Bearer ${plain}`);
    assert.equal(unproven.status, 403, 'a plain token is no dpop identity');

    const key = await dpopKey('EdDSA');
    const bound = await clientCredentialsToken(idp, key);
    const httpsUrl = gh.url.replace('http://', 'https://');
    const ok = await call(
      gh.url,
      '/api/bound',
      `DPoP ${bound}`,
      await proof(key, 'GET', `${httpsUrl}/api/bound`, { accessToken: bound }),
    );
    assert.equal(ok.status, 200);
    const line = await gh.auditLine((l) => l.request_id === ok.requestId);
    assert.equal(line.auth_type, 'dpop');
    // The http:// URL is not the one the client used.
    const http = await call(
      gh.url,
      '/api/bound',
      `DPoP ${bound}`,
      await proof(key, 'GET', `${gh.url}/api/bound`, { accessToken: bound }),
    );
    assert.equal(http.status, 401);

    const anonymous = await call(gh.url, '/api/any', undefined);
    assert.deepEqual(anonymous.challenge, [
      // public_url's scheme on its host, as the client behind the TLS terminator used it
      `Bearer realm="gatehouse", resource_metadata="${gh.url.replace('http:', 'https:')}/.well-known/oauth-protected-resource/api/any"`,
      'DPoP algs="ES256 EdDSA RS256 PS256"',
    ]);
  });
});

const skip = redisMissing();

describe('DPoP across replicas sharing redis, with server nonces', { skip }, () => {
  let idp: DevIdp;
  let upstream: EchoUpstream;
  let redis: TestRedis;
  let a: TestGatehouse;
  let b: TestGatehouse;
  let key: DpopKey;
  let token: string;

  before(async () => {
    idp = await startDevIdp();
    upstream = await startEchoUpstream();
    redis = await startRedis();
    a = await startTestGatehouse(config(idp.issuer, upstream.url, { store: redis.url, nonce: true }));
    b = await startTestGatehouse(config(idp.issuer, upstream.url, { store: redis.url, nonce: true }));
    await Promise.all([a.ready(), b.ready()]);
    key = await dpopKey('ES256');
    token = await clientCredentialsToken(idp, key);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([idp?.close(), upstream?.close(), redis?.close()]);
  });

  it('asks for a nonce (use_dpop_nonce + DPoP-Nonce); one issued by replica A works on B', async () => {
    const first = await call(
      a.url,
      '/agents/x',
      `DPoP ${token}`,
      await proof(key, 'GET', `${a.url}/agents/x`, { accessToken: token }),
    );
    assert.equal(first.status, 401);
    assert.equal((await a.auditLine((l) => l.request_id === first.requestId)).reason, 'dpop_nonce_required');
    assert.match(dpopChallenge(first), /^DPoP error="use_dpop_nonce", error_description="[^"]+", algs="/);
    assert.ok(first.nonce);
    const withNonce = await proof(key, 'GET', `${b.url}/agents/x`, {
      accessToken: token,
      nonce: first.nonce,
    });
    assert.equal((await call(b.url, '/agents/x', `DPoP ${token}`, withNonce)).status, 200);
    // A made-up nonce is no nonce.
    const forged = await proof(key, 'GET', `${b.url}/agents/x`, {
      accessToken: token,
      nonce: `${first.nonce!.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`,
    });
    const f = await call(b.url, '/agents/x', `DPoP ${token}`, forged);
    assert.equal(f.status, 401);
    assert.ok(f.nonce);
  });

  it('a proof used on replica A is refused on replica B: dpop_proof_replayed', async () => {
    const nonce = (
      await call(
        a.url,
        '/agents/x',
        `DPoP ${token}`,
        await proof(key, 'GET', `${a.url}/agents/x`, { accessToken: token }),
      )
    ).nonce;
    // Both replicas are 127.0.0.1 on different ports: the same proof needs the same htu, so
    // address both through the same URL authority (B is reached through A's Host header).
    const p = await proof(key, 'GET', `${a.url}/agents/x`, { accessToken: token, nonce: nonce! });
    assert.equal((await call(a.url, '/agents/x', `DPoP ${token}`, p)).status, 200);
    const res = await request(`${b.url}/agents/x`, {
      headers: {
        host: new URL(a.url).host,
        authorization: `DPoP ${token}`,
        dpop: p,
        accept: 'application/json',
      },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 401);
    const line = await b.auditLine((l) => l.request_id === res.headers['x-request-id']);
    assert.equal(line.reason, 'dpop_proof_replayed');
  });
});
