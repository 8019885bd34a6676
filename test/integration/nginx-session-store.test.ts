/**
 * issue-19: refresh through nginx `auth_request` for a session of any size. With
 * `session.storage: store` the browser holds one small id cookie and a refresh rewrites the
 * record only, so the 150-group user whose cookie session would need several chunks is
 * refreshed on every request without nginx having to pass a single Set-Cookie on. Real nginx
 * from the shipped `config/nginx/` files, real dev IdP, real Gatehouse.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { echoedHeaders } from '../helpers/http-get.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { nginxSkip, shippedSite, startNginx, type TestNginx } from '../helpers/nginx.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

const GROUPS = Array.from(
  { length: 150 },
  (_, i) => `okta-app-platform-engineering-team-${String(i).padStart(3, '0')}-read-write-access`,
);

describe('issue-19: nginx auth_request refreshes a 150-group store session', { skip: nginxSkip() }, () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;
  let nginx: TestNginx;
  let base: string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({
      redirectUris: [`${base}/.gatehouse/callback`],
      accessTokenTtl: 300,
      users: { carol: { email: 'carol@example.com', name: 'Carol', groups: GROUPS } },
    });
    echo = await startEchoUpstream({ maxHeaderSize: 65_536 });
    gh = await startTestGatehouse(
      testConfig({
        idp,
        oidc: { scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'] },
        server: { public_url: base, trusted_proxies: ['127.0.0.1/32'] },
        // refresh_before (1d) > the access token's 300 s: every request refreshes.
        session: { storage: 'store', refresh_before: '1d' },
        // 150 long group names are more identity header bytes than the 16 KiB default.
        identity: { max_header_bytes: 65_536 },
        routes: [
          route('team', '/team', echo.url, { policy: { allow: [{ groups: [GROUPS[149]!] }] } }),
          route('app', '/', echo.url),
        ],
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

  async function refreshes(): Promise<number> {
    const text = await (await request(`${gh.adminUrl}/metrics`)).body.text();
    const line = text.split('\n').find((l) => l.startsWith('gatehouse_session_refresh_total{result="ok"}'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  it('logs in through nginx with one cookie, then refreshes on each request with no Set-Cookie', async () => {
    const jar = new CookieJar();
    const login = await loginThroughIdp(`${base}/app/`, 'carol', jar);
    assert.equal(login.status, 200, nginx.errorLog());
    assert.deepEqual(
      jar.names().filter((n) => n.startsWith('gatehouse')),
      ['gatehouse'],
      'one id cookie, no chunks',
    );
    const cookie = jar.get('gatehouse', base)!;
    assert.ok(cookie.length < 400, `the cookie is ${cookie.length} bytes`);
    const before = await refreshes();
    for (const path of ['/app/one', '/team/two', '/app/three']) {
      const res = await request(`${base}${path}`, {
        headers: { accept: 'text/html', cookie: jar.header(base)! },
      });
      const text = await res.body.text();
      assert.equal(res.statusCode, 200, `${path}: ${text}\n${nginx.errorLog()}`);
      assert.equal(res.headers['set-cookie'], undefined, `${path}: a refresh changes no cookie`);
      assert.equal(echoedHeaders(text)['x-auth-request-user'], 'carol');
    }
    assert.ok((await refreshes()) - before >= 3, 'each request refreshed the tokens');
    assert.equal(jar.get('gatehouse', base), cookie);
  });
});
