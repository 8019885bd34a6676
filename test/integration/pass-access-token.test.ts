/**
 * Issue 18: `identity.pass_access_token: authorization` – the upstream gets the caller's access
 * token as `Authorization: Bearer …`, the header a mesh sidecar or an API backend reads, for a
 * browser session and for a machine alike; whatever Authorization the client sent is replaced.
 * `header` (and `true`) keep X-Auth-Request-Access-Token and leave Authorization alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { clientCredentialsToken, dpopKey, proof } from '../helpers/dpop.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { echoedHeaders } from '../helpers/http-get.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

describe('issue-18: pass_access_token', () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let asAuthorization: TestGatehouse;
  let asHeader: TestGatehouse;

  before(async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    idp = await startDevIdp({
      redirectUris: [p1, p2].map((p) => `http://127.0.0.1:${p}/.gatehouse/callback`),
    });
    echo = await startEchoUpstream();
    const bearer = [
      {
        issuer: idp.issuer,
        audiences: ['api://demo'],
        algorithms: ['ES256', 'RS256'],
        dpop: 'allowed' as const,
      },
    ];
    const routes = [route('app', '/', echo.url)];
    asAuthorization = await startTestGatehouse(
      testConfig({ idp, bearer, routes, identity: { pass_access_token: 'authorization' } }),
      { port: p1 },
    );
    asHeader = await startTestGatehouse(
      testConfig({ idp, bearer, routes, identity: { pass_access_token: true } }),
      {
        port: p2,
      },
    );
  });
  after(async () => {
    await Promise.all([asAuthorization?.close(), asHeader?.close()]);
    await Promise.all([echo?.close(), idp?.close()]);
  });

  async function upstreamHeaders(url: string, headers: Record<string, string>) {
    const res = await request(url, { headers });
    const text = await res.body.text();
    assert.equal(res.statusCode, 200, text);
    return echoedHeaders(text);
  }

  it('authorization: a browser session reaches the upstream as Authorization: Bearer <its access token>', async () => {
    const jar = new CookieJar();
    const done = await loginThroughIdp(`${asAuthorization.url}/.gatehouse/start?rd=/app`, 'alice', jar);
    assert.equal(done.status, 200, done.body);
    const seen = echoedHeaders(done.body);
    assert.match(seen.authorization ?? '', /^Bearer [\x21-\x7e]+$/);
    assert.equal(seen['x-auth-request-access-token'], undefined);
    // A client's own Authorization beside the session cookie is replaced, not passed on.
    const again = await upstreamHeaders(`${asAuthorization.url}/app`, {
      cookie: jar.header(asAuthorization.url) ?? '',
      authorization: 'Basic Zm9yZ2VkOnNlY3JldA==',
    });
    assert.equal(again.authorization, seen.authorization);
  });

  it('authorization: a DPoP caller’s token goes upstream as Bearer, the proof does not count again', async () => {
    const key = await dpopKey('ES256');
    const token = await clientCredentialsToken(idp, key);
    const url = `${asAuthorization.url}/app/run`;
    const seen = await upstreamHeaders(url, {
      authorization: `DPoP ${token}`,
      dpop: await proof(key, 'GET', url, { accessToken: token }),
    });
    assert.equal(seen.authorization, `Bearer ${token}`);
  });

  it('header (or true): X-Auth-Request-Access-Token, and the client’s Authorization untouched', async () => {
    const token = await clientCredentialsToken(idp);
    const seen = await upstreamHeaders(`${asHeader.url}/app`, { authorization: `Bearer ${token}` });
    assert.equal(seen['x-auth-request-access-token'], token);
    assert.equal(seen.authorization, `Bearer ${token}`);
  });
});
