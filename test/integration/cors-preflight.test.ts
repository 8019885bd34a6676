/**
 * Issue 19: `routes[].cors_preflight: allow` lets an exact CORS preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) pass unauthenticated – to the upstream in proxy mode, 202 from
 * `/auth` behind real nginx – with `preflight` in the audit line. A non-preflight OPTIONS, and a
 * preflight on a `deny` (default) route, are still checked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { nginxSkip, shippedSite, startNginx, type TestNginx } from '../helpers/nginx.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

const PREFLIGHT = { origin: 'https://spa.example', 'access-control-request-method': 'PUT' };

async function options(url: string, headers: Record<string, string>): Promise<number> {
  const res = await request(url, { method: 'OPTIONS', headers });
  await res.body.text();
  return res.statusCode;
}

describe('cors_preflight (issue 19)', () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;

  before(async () => {
    echo = await startEchoUpstream();
    idp = await startDevIdp();
    gh = await startTestGatehouse(
      testConfig({
        idp,
        routes: [
          route('api', '/api', echo.url, { cors_preflight: 'allow' }),
          route('app', '/', echo.url), // cors_preflight: deny, the default
        ],
      }),
    );
  });
  after(async () => {
    await gh?.close();
    await echo?.close();
    await idp?.close();
  });

  it('proxy mode: a preflight on an allow route reaches the upstream without credentials', async () => {
    const before = echo.requests.length;
    assert.equal(await options(`${gh.url}/api/orders`, PREFLIGHT), 200);
    const seen = echo.requests.at(-1)!;
    assert.equal(echo.requests.length, before + 1);
    assert.equal(seen.method, 'OPTIONS');
    assert.equal(seen.headers['x-auth-request-user'], undefined, 'no identity headers');
    const audit = await gh.auditLine((l) => l.method === 'OPTIONS' && l.path === '/api/orders');
    assert.equal(audit.decision, 'allow');
    assert.equal(audit.reason, 'preflight');
  });

  it('proxy mode: everything that is not exactly a preflight, or on a deny route, is checked', async () => {
    const before = echo.requests.length;
    assert.equal(await options(`${gh.url}/api/orders`, { origin: 'https://spa.example' }), 401);
    assert.equal(await options(`${gh.url}/api/orders`, { 'access-control-request-method': 'PUT' }), 401);
    assert.equal(await options(`${gh.url}/app/orders`, PREFLIGHT), 401);
    const get = await request(`${gh.url}/api/orders`, { headers: PREFLIGHT });
    await get.body.text();
    assert.equal(get.statusCode, 401, 'preflight headers on a GET change nothing');
    assert.equal(echo.requests.length, before, 'the upstream saw none of them');
  });
});

describe('cors_preflight behind nginx auth_request (issue 19)', { skip: nginxSkip() }, () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;
  let nginx: TestNginx;
  let base: string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    echo = await startEchoUpstream();
    idp = await startDevIdp({ redirectUris: [`${base}/.gatehouse/callback`] });
    gh = await startTestGatehouse(
      testConfig({
        idp,
        server: { public_url: base, trusted_proxies: ['127.0.0.1/32'] },
        routes: [route('api', '/api', echo.url, { cors_preflight: 'allow' }), route('app', '/', echo.url)],
      }),
    );
    const site = shippedSite({
      listen: port,
      gatehouse: gh.gh.publicAddress.port,
      app: echo.port,
    });
    nginx = await startNginx({ sites: [site], ports: [port] });
  });
  after(async () => {
    await nginx?.close();
    await gh?.close();
    await echo?.close();
    await idp?.close();
  });

  it('a preflight on an allow route: /auth answers 202 and nginx passes it upstream', async () => {
    const before = echo.requests.length;
    assert.equal(await options(`${base}/api/orders`, PREFLIGHT), 200, nginx.errorLog());
    assert.equal(echo.requests.length, before + 1);
    assert.equal(echo.requests.at(-1)!.method, 'OPTIONS');
    const audit = await gh.auditLine((l) => l.path === '/api/orders' && l.reason === 'preflight');
    assert.equal(audit.status, 202);
  });

  it('a plain OPTIONS and a preflight on a deny route are still refused', async () => {
    const before = echo.requests.length;
    assert.equal(await options(`${base}/api/orders`, { origin: 'https://spa.example' }), 401);
    assert.equal(await options(`${base}/app/orders`, PREFLIGHT), 401);
    assert.equal(echo.requests.length, before);
  });
});
