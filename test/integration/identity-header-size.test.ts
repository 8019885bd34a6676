/**
 * Issue 19: a user in 500 groups. Without a filter her identity headers and assertion exceed
 * `identity.max_header_bytes`: Gatehouse refuses with `identity_headers_too_large` (500) instead
 * of sending the upstream a request it would answer with 431. With `identity.groups_filter` only
 * the kept groups go upstream, while policies still see every group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { echoedHeaders } from '../helpers/http-get.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { nginxSkip, shippedSite, startNginx, type TestNginx } from '../helpers/nginx.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

const GROUPS = Array.from({ length: 500 }, (_, i) => `team-${String(i).padStart(3, '0')}`);
const USERS = { many: { email: 'many@example.com', preferred_username: 'many', groups: GROUPS } };

describe('identity header size (issue 19)', () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let plain: TestGatehouse;
  let filtered: TestGatehouse;
  let tiny: TestGatehouse;

  before(async () => {
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    echo = await startEchoUpstream();
    idp = await startDevIdp({
      users: USERS,
      redirectUris: [p1, p2, p3].map((p) => `http://127.0.0.1:${p}/.gatehouse/callback`),
    });
    // A policy on a group the filter drops: decisions still see every group.
    const routes = [route('app', '/', echo.url, { policy: { allow: [{ groups: ['team-499'] }] } })];
    // 8 KiB: what an nginx or Apache upstream takes per header line (the default, 16 KiB, is node's).
    plain = await startTestGatehouse(testConfig({ idp, routes, identity: { max_header_bytes: 8192 } }), {
      port: p1,
    });
    filtered = await startTestGatehouse(
      testConfig({ idp, routes, identity: { groups_filter: ['team-00*', 'team-010'] } }),
      { port: p2 },
    );
    tiny = await startTestGatehouse(testConfig({ idp, routes, session: { max_chunks: 1 } }), { port: p3 });
  });
  after(async () => {
    await tiny?.close();
    await plain?.close();
    await filtered?.close();
    await echo?.close();
    await idp?.close();
  });

  it('without a filter: 500 identity_headers_too_large, logged, the upstream never asked', async () => {
    const before = echo.requests.length;
    const done = await loginThroughIdp(`${plain.url}/page`, 'many', new CookieJar());
    assert.equal(done.status, 500, done.body);
    assert.match(done.body, /identity_headers_too_large/);
    assert.equal(echo.requests.length, before);
    const audit = await plain.auditLine((l) => l.path === '/page' && l.status === 500);
    assert.equal(audit.reason, 'identity_headers_too_large');
    const line = plain.logs().find((l) => l.reason === 'identity_headers_too_large' && l.groups === 500);
    assert.match(String(line?.msg), /identity\.groups_filter/);
  });

  it('a login whose session needs more than session.max_chunks is refused with session_too_large', async () => {
    const jar = new CookieJar();
    const done = await loginThroughIdp(`${tiny.url}/page`, 'many', jar);
    assert.match(done.body, /session_too_large/);
    assert.notEqual(done.status, 200);
    const audit = await tiny.auditLine((l) => l.reason === 'session_too_large');
    assert.equal(audit.path, '/.gatehouse/callback');
    const line = tiny.logs().find((l) => l.reason === 'session_too_large' && typeof l.bytes === 'number');
    assert.match(String(line?.msg), /session\.storage: store/);
  });

  it('with groups_filter: only the kept groups go upstream, in the header and the assertion', async () => {
    const done = await loginThroughIdp(`${filtered.url}/page`, 'many', new CookieJar());
    assert.equal(done.status, 200, done.body);
    const seen = echoedHeaders(done.body);
    const kept = [...GROUPS.slice(0, 11)];
    assert.equal(seen['x-auth-request-groups'], kept.join(','));
    assert.deepEqual(decodeJwt(seen['x-gatehouse-assertion']!).groups, kept);
  });
});

describe('identity header size behind nginx auth_request (issue 19)', { skip: nginxSkip() }, () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  const gatehouses: TestGatehouse[] = [];
  const nginxes: TestNginx[] = [];
  let plainBase: string;
  let filteredBase: string;

  before(async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    [plainBase, filteredBase] = [p1, p2].map((p) => `http://127.0.0.1:${p}`) as [string, string];
    echo = await startEchoUpstream();
    idp = await startDevIdp({
      users: USERS,
      redirectUris: [plainBase, filteredBase].map((b) => `${b}/.gatehouse/callback`),
    });
    for (const [port, identity] of [
      [p1, { max_header_bytes: 8192 }],
      [p2, { groups_filter: '^team-00' }],
    ] as const) {
      const gh = await startTestGatehouse(
        testConfig({
          idp,
          server: { public_url: `http://127.0.0.1:${port}`, trusted_proxies: ['127.0.0.1/32'] },
          routes: [route('app', '/', echo.url)],
          identity,
        }),
      );
      gatehouses.push(gh);
      // A 500-group session is several cookie chunks: the callback's Set-Cookie headers outgrow
      // nginx's default 4-8 KiB proxy_buffer_size (README: "Session size limits").
      const site = shippedSite({
        listen: port,
        gatehouse: gh.gh.publicAddress.port,
        app: echo.port,
      }).replace(
        `listen 127.0.0.1:${port};`,
        `listen 127.0.0.1:${port};\n    proxy_buffer_size 64k;\n    proxy_buffers 8 64k;`,
      );
      nginxes.push(await startNginx({ sites: [site], ports: [port] }));
    }
  });
  after(async () => {
    for (const n of nginxes) await n.close();
    for (const gh of gatehouses) await gh.close();
    await echo?.close();
    await idp?.close();
  });

  it('without a filter /auth answers 500 identity_headers_too_large; nginx never asks the app', async () => {
    const before = echo.requests.length;
    const done = await loginThroughIdp(`${plainBase}/page`, 'many', new CookieJar());
    assert.equal(done.status, 500, nginxes[0]!.errorLog());
    assert.equal(echo.requests.length, before);
    const audit = await gatehouses[0]!.auditLine((l) => l.reason === 'identity_headers_too_large');
    assert.equal(audit.status, 500);
  });

  it('with groups_filter the app gets the ten kept groups', async () => {
    const done = await loginThroughIdp(`${filteredBase}/page`, 'many', new CookieJar());
    assert.equal(done.status, 200, `${done.body}\n${nginxes[1]!.errorLog()}`);
    assert.equal(echoedHeaders(done.body)['x-auth-request-groups'], GROUPS.slice(0, 10).join(','));
  });
});
