/**
 * Issue 18: client authentication to the IdP with `private_key_jwt` (RFC 7523) instead of a
 * client secret. A real oidc-provider that knows the client only by its public key: the login's
 * code exchange and a later refresh both authenticate with a signed client assertion, and a
 * Gatehouse holding another key is refused at the token endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { echoedHeaders } from '../helpers/http-get.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

async function privateJwk(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    public: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    private: JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES256' }),
  };
}

describe('issue-18: oidc.token_endpoint_auth_method: private_key_jwt', () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let good: TestGatehouse;
  let wrongKey: TestGatehouse;

  before(async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const registered = await privateJwk('gatehouse-1');
    const other = await privateJwk('gatehouse-1'); // same kid, another key: a forged client
    idp = await startDevIdp({
      redirectUris: [p1, p2].map((p) => `http://127.0.0.1:${p}/.gatehouse/callback`),
      clientJwks: [registered.public],
      accessTokenTtl: 60,
    });
    echo = await startEchoUpstream();
    const oidc = (key: string) => ({
      token_endpoint_auth_method: 'private_key_jwt' as const,
      private_key: key,
      client_secret: undefined,
      scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    });
    const routes = [route('app', '/', echo.url)];
    // refresh_before (1d) > the access token's 60 s: the next request refreshes.
    const session = { refresh_before: '1d' };
    good = await startTestGatehouse(testConfig({ idp, oidc: oidc(registered.private), session, routes }), {
      port: p1,
    });
    wrongKey = await startTestGatehouse(testConfig({ idp, oidc: oidc(other.private), session, routes }), {
      port: p2,
    });
  });
  after(async () => {
    await Promise.all([good?.close(), wrongKey?.close()]);
    await Promise.all([echo?.close(), idp?.close()]);
  });

  it('logs in and refreshes with a signed client assertion, no secret', async () => {
    const jar = new CookieJar();
    const done = await loginThroughIdp(`${good.url}/.gatehouse/start?rd=/app`, 'alice', jar);
    assert.equal(done.status, 200, done.body);
    assert.equal(echoedHeaders(done.body)['x-auth-request-user'], 'alice');
    const again = await request(`${good.url}/app/next`, { headers: { cookie: jar.header(good.url) ?? '' } });
    const text = await again.body.text();
    assert.equal(again.statusCode, 200, text);
    // The refresh (a second client assertion at the token endpoint) re-seals the session.
    assert.ok(again.headers['set-cookie'], 'the refreshed session was written back');
    assert.equal(good.logs().filter((l) => l.msg === 'refresh failed').length, 0);
  });

  it('a client assertion signed by another key is refused at the token endpoint', async () => {
    const jar = new CookieJar();
    const done = await loginThroughIdp(`${wrongKey.url}/.gatehouse/start?rd=/app`, 'alice', jar);
    assert.notEqual(done.status, 200);
    const line = await wrongKey.auditLine((l) => String(l.path).startsWith('/.gatehouse/callback'));
    assert.equal(line.decision, 'error');
  });
});
