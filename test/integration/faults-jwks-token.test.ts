/**
 * issue 10 faults: the JWKS endpoint answering 500, garbage, and too slowly (the last good keys
 * keep validating new tokens); the IdP token endpoint timing out during a login callback (a clean
 * error page, no session). Each: no crash, no unhandled rejection, a log line with a reason and a
 * metric.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { get, metric, watchUnhandled } from '../helpers/faults.ts';
import { freePort, startTestGatehouse, type TestGatehouse, waitFor } from '../helpers/gatehouse.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { startServer, type TestServer } from './bearer-helpers.ts';

const unhandled = watchUnhandled();
const ISSUER = 'https://issuer.faults.test';
let mode: 'ok' | '500' | 'garbage' | 'slow' | 'hang-token' = 'ok';
let upstream: EchoUpstream;
let fakeIdp: TestServer;
let gh: TestGatehouse;
let privateKey: CryptoKey;
let publicJwk: JWK;

async function token(sub: string): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience('api://faults')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);
}

before(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  upstream = await startEchoUpstream();
  const port = await freePort();
  // One fake IdP: JWKS for the bearer issuer, and discovery + a token endpoint for the login.
  fakeIdp = await startServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/jwks') {
      if (mode === '500') return void res.writeHead(500).end('oops');
      if (mode === 'garbage')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[{"kty":');
      if (mode === 'slow') return void setTimeout(() => res.writeHead(200).end('{"keys":[]}'), 1500);
      return void res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=1' })
        .end(JSON.stringify({ keys: [publicJwk] }));
    }
    if (path === '/.well-known/openid-configuration') {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          issuer: fakeIdp.url,
          authorization_endpoint: `${fakeIdp.url}/auth`,
          token_endpoint: `${fakeIdp.url}/token`,
          jwks_uri: `${fakeIdp.url}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          code_challenge_methods_supported: ['S256'],
        }),
      );
    }
    if (path === '/token') return; // never answers: the exchange must time out
    res.writeHead(404).end();
  });
  gh = await startTestGatehouse(
    `
server:
  public_url: http://127.0.0.1:{{PORT}}
oidc:
  issuer: ${fakeIdp.url}
  client_id: gatehouse
  client_secret: faults-token-client-secret-0123456789
  timeout: 500ms
session:
  secrets: [faults-token-cookie-secret-0123456789abcd]
bearer:
  - issuer: ${ISSUER}
    jwks_uri: ${fakeIdp.url}/jwks
    audiences: [api://faults]
    algorithms: [ES256]
    jwks: { min_ttl: 1s, max_ttl: 1s, cooldown: 1s, timeout: 300ms }
routes:
  - name: api
    match: { path: / }
    upstream: ${upstream.url}
    auth: [session, bearer]
    policy: { allow: [ { authenticated: true } ] }
`,
    { port },
  );
  await waitFor(async () => (await get(`${gh.adminUrl}/readyz`)).status === 200, 5000, 'ready');
});

after(async () => {
  await gh.close();
  await fakeIdp.close();
  await upstream.close();
  assert.deepEqual(unhandled.stop(), [], 'no unhandled rejection');
});

describe('JWKS faults: the last good keys keep validating', () => {
  for (const fault of ['500', 'garbage', 'slow'] as const) {
    it(`JWKS answering ${fault}`, async () => {
      assert.equal(
        (await get(`${gh.url}/a`, { authorization: `Bearer ${await token('before')}` })).status,
        200,
      );
      const errorsBefore = await metric(gh.adminUrl, 'gatehouse_jwks_refresh_total', { result: 'error' });
      const logsBefore = gh.logs().length;
      mode = fault;
      // background refreshes every ~1 s: wait for at least one to fail
      await waitFor(
        async () =>
          (await metric(gh.adminUrl, 'gatehouse_jwks_refresh_total', { result: 'error' })) > errorsBefore,
        6000,
        `a failed refresh (${fault})`,
      );
      const line = gh
        .logs()
        .slice(logsBefore)
        .find((l) => l.msg === 'JWKS refresh failed');
      assert.ok(line, 'logged');
      assert.equal(line.kept_last_good, true);
      assert.ok(typeof line.reason === 'string' && line.reason.length > 0, 'with a reason');
      // a token never seen before, signed by the known key, verifies against the kept keys
      const fresh = await get(`${gh.url}/b`, { authorization: `Bearer ${await token(`during-${fault}`)}` });
      assert.equal(fresh.status, 200);
      assert.equal((await get(`${gh.adminUrl}/readyz`)).status, 200, 'still ready');
      mode = 'ok';
      await waitFor(
        () =>
          gh
            .logs()
            .slice(logsBefore)
            .some((l) => l.msg === 'JWKS loaded'),
        6000,
        'recovery',
      );
    });
  }
});

describe('token endpoint timing out during the callback', () => {
  it('answers a clean 503 page, sets no session, logs the reason, counts a failed login', async () => {
    const start = await get(`${gh.url}/.gatehouse/start?rd=/after`);
    assert.equal(start.status, 302);
    const location = new URL(String(start.headers.location));
    const state = location.searchParams.get('state')!;
    const loginCookies = [start.headers['set-cookie'] ?? []].flat().map((c) => c.split(';')[0]);
    const failures = await metric(gh.adminUrl, 'gatehouse_logins_total', { result: 'failure' });
    const began = performance.now();
    const cb = await get(`${gh.url}/.gatehouse/callback?code=abc&state=${encodeURIComponent(state)}`, {
      cookie: loginCookies.join('; '),
      accept: 'text/html',
    });
    const took = performance.now() - began;
    assert.equal(cb.status, 503);
    assert.ok(took >= 400 && took < 5000, `answered after ${took} ms (oidc.timeout 500ms)`);
    assert.match(String(cb.headers['content-type']), /text\/html/);
    assert.match(cb.body, /identity provider is unreachable/i);
    assert.doesNotMatch(cb.body, /TimeoutError|AbortError|at .+:\d+/);
    const set = [cb.headers['set-cookie'] ?? []].flat();
    assert.ok(
      set.every((c) => !/^gatehouse(\.\d+)?=[^;]/.test(c)),
      `no session: ${set.join(' | ')}`,
    );
    assert.ok(
      set.some((c) => /Max-Age=0/.test(c)),
      'the login cookie is expired',
    );
    const line = gh.logs().find((l) => l.msg === 'login callback failed' && l.reason === 'idp_unavailable');
    assert.ok(line, 'a log line with the reason');
    assert.equal(await metric(gh.adminUrl, 'gatehouse_logins_total', { result: 'failure' }), failures + 1);
    assert.equal(fakeIdp.hits.get('/token'), 1);
  });
});
