/**
 * issue-17: Gatehouse behind a real Caddy (`forward_auth`), from the shipped
 * `config/caddy/Caddyfile` templated for addresses only, with a real Gatehouse, the dev IdP, an
 * echo upstream behind Caddy and Chromium for the browser login. Traefik has no Debian package:
 * its `ForwardAuth` is covered by driving `{prefix}/forward_auth` with exactly the headers
 * Traefik's documentation says it sends.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { parse, parseAllDocuments } from 'yaml';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { IDENTITY_HEADERS } from '../../src/identity/headers.ts';
import { chromiumSkip, launchChromium } from '../helpers/browser.ts';
import { CADDYFILE, caddySkip, startCaddy, type TestCaddy } from '../helpers/caddy.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { echoedHeaders, getText } from '../helpers/http-get.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { machineToken } from './bearer-helpers.ts';

function gatehouseYaml(o: { idp: DevIdp; publicPort: number; app: string; trusted: string }): string {
  return testConfig({
    idp: o.idp,
    server: { public_url: `http://127.0.0.1:${o.publicPort}`, trusted_proxies: [o.trusted] },
    bearer: [{ issuer: o.idp.issuer, audiences: ['api://demo'], typ: 'at+jwt' }],
    routes: [
      route('admin', '/admin', o.app, { policy: { allow: [{ groups: ['admins'] }] } }),
      route('static', '/static', o.app, { policy: 'public' }),
      route('app', '/', o.app),
    ],
  });
}

describe('issue-17: forward auth behind Caddy with the shipped Caddyfile', {
  skip: caddySkip() || chromiumSkip(),
}, () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;
  let untrusted: TestGatehouse;
  let caddy: TestCaddy;
  let browser: Browser;
  let port: number;
  let base: string;
  let token: string;

  before(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ redirectUris: [`${base}/.gatehouse/callback`] });
    echo = await startEchoUpstream();
    gh = await startTestGatehouse(
      gatehouseYaml({ idp, publicPort: port, app: echo.url, trusted: '127.0.0.1/32' }),
    );
    untrusted = await startTestGatehouse(
      gatehouseYaml({ idp, publicPort: port, app: echo.url, trusted: '192.0.2.1/32' }),
    );
    caddy = await startCaddy({ listen: port, gatehouse: gh.gh.publicAddress.port, app: echo.port });
    token = await machineToken(idp);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await caddy?.close();
    await gh?.close();
    await untrusted?.close();
    await echo?.close();
    await idp?.close();
  });

  const get = getText;
  const seen = echoedHeaders;

  it('passes a bearer token: the upstream sees X-Auth-Request-User and the assertion', async () => {
    const res = await get(`${base}/app/api?q=1`, {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
    });
    assert.equal(res.status, 200, `${res.text}\n${caddy.log()}`);
    const headers = seen(res.text);
    assert.equal(headers['x-auth-request-user'], 'machine');
    assert.ok(headers['x-gatehouse-assertion']);
    assert.equal(JSON.parse(res.text).url, '/app/api?q=1');
    const line = await gh.auditLine((l) => l.path === '/app/api' && l.decision === 'allow');
    assert.equal(line.route, 'app');
  });

  it('refuses a denied route with 403, and the upstream never sees it', async () => {
    const before = echo.requests.length;
    const res = await get(`${base}/admin/panel`, {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
    });
    assert.equal(res.status, 403, res.text);
    assert.match(String(res.headers['www-authenticate']), /insufficient_scope/);
    assert.equal(echo.requests.length, before, 'the upstream never saw the denied request');
    const line = await gh.auditLine((l) => l.path === '/admin/panel' && l.decision === 'deny');
    assert.equal(line.route, 'admin');
    assert.equal(line.reason, 'no_rule_matched');
  });

  it('answers an API client without a credential with 401 and WWW-Authenticate', async () => {
    const before = echo.requests.length;
    const cases: Record<string, string>[] = [
      { accept: 'application/json' },
      {},
      { accept: 'text/html', 'sec-fetch-mode': 'cors' },
    ];
    for (const headers of cases) {
      const res = await get(`${base}/app/data`, headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.match(String(res.headers['www-authenticate']), /^Bearer realm="gatehouse"/);
      assert.equal(res.headers.location, undefined);
    }
    const bad = await get(`${base}/app/data`, { authorization: 'Bearer not-a-token' });
    assert.equal(bad.status, 401);
    assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/);
    assert.equal(echo.requests.length, before);
    const line = await gh.auditLine((l) => l.path === '/app/data' && l.decision === 'login');
    assert.equal(line.route, 'app');
  });

  it('sends a browser navigation without a session to start; a real login and sign-out through Caddy', async () => {
    const target = `${base}/app/page?x=1&y=a%20b`;
    const first = await get(target, { accept: 'text/html' });
    assert.equal(first.status, 302, first.text);
    const location = new URL(String(first.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, `${base}/.gatehouse/start`);
    assert.equal(location.searchParams.get('rd'), target);

    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto(target);
      assert.ok(page.url().startsWith(idp.issuer), `redirected to the IdP, at ${page.url()}`);
      await page.fill('input[name="login"]', 'alice');
      await page.fill('input[name="password"]', 'any password');
      await Promise.all([page.waitForURL(target), page.click('button[type="submit"]')]);
      const headers = seen((await page.textContent('body')) ?? '');
      assert.equal(headers['x-auth-request-user'], 'alice');
      assert.equal(headers['x-auth-request-groups'], 'admins,eng');
      assert.ok(headers['x-gatehouse-assertion']);

      // Sign-out through Caddy (a same-origin POST, as a page's sign-out button sends it): the
      // session cookie is cleared, and the old cookie, replayed, no longer opens the page.
      const cookies = await page.context().cookies(base);
      const session = cookies.filter((c) => c.name.startsWith('gatehouse'));
      assert.ok(session.length > 0, 'signed in with a session cookie');
      const cookie = session.map((c) => `${c.name}=${c.value}`).join('; ');
      const signedOut = await page.evaluate(
        async () => (await fetch('/.gatehouse/sign_out', { method: 'POST', redirect: 'manual' })).type,
      );
      assert.equal(signedOut, 'opaqueredirect');
      const left = (await page.context().cookies(base)).filter((c) => c.name.startsWith('gatehouse'));
      assert.deepEqual(left, [], 'the session cookie is cleared');
      const replayed = await get(target, { accept: 'text/html', cookie });
      assert.equal(replayed.status, 302, 'a signed-out session cookie is refused');
      assert.equal(new URL(String(replayed.headers.location)).pathname, '/.gatehouse/start');
      await gh.auditLine((l) => l.path === '/.gatehouse/sign_out' && l.sub === 'alice');
    } finally {
      await page.close();
    }
    // and the same login by hand, every hop through Caddy or the IdP
    const done = await loginThroughIdp(target, 'bob', new CookieJar());
    assert.equal(done.finalUrl, target, done.visited.join(' → '));
    assert.equal(seen(done.body)['x-auth-request-user'], 'bob');
    assert.ok(done.visited.every((u) => u.startsWith(base) || u.startsWith(idp.issuer)));
  });

  it('never lets a client-sent identity header reach the upstream', async () => {
    for (const path of ['/app/spoof', '/static/spoof']) {
      for (const auth of [`Authorization: Bearer ${token}\r\n`, '']) {
        if (path === '/app/spoof' && !auth) continue; // no credential: refused before the upstream
        const before = echo.requests.length;
        const spoof = [
          'X-Auth-Request-User: admin',
          'X-Auth-Request-Groups: admins',
          'X-Auth-Request-Email: root@example.com',
          'X-Gatehouse-Assertion: forged',
          'X_Auth_Request_User: admin',
        ].join('\r\n');
        const res = await rawRequest(
          port,
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}${spoof}\r\nConnection: close`,
        );
        assert.equal(res.status, 200, `${path} ${auth ? 'bearer' : 'anonymous'}`);
        assert.equal(echo.requests.length, before + 1);
        const got = echo.requests.at(-1)!;
        for (let i = 0; i < got.rawHeaders.length; i += 2) {
          const value = got.rawHeaders[i + 1]!;
          assert.ok(!['admin', 'admins', 'root@example.com', 'forged'].includes(value), got.rawHeaders[i]);
        }
        if (path === '/app/spoof') assert.equal(got.headers['x-auth-request-user'], 'machine');
      }
    }
  });

  it('ignores a client-sent X-Forwarded-Uri aimed at a public route', async () => {
    const before = echo.requests.length;
    const headers = {
      accept: 'application/json',
      'x-forwarded-uri': '/static/x',
      'x-forwarded-method': 'GET',
    };
    // through Caddy: forward_auth sets X-Forwarded-Uri to the real URI
    const via = await get(`${base}/app/secret`, headers);
    assert.equal(via.status, 401, via.text);
    assert.equal(echo.requests.length, before);
    // through Caddy, at the endpoint itself: Caddy drops the header, so there is nothing to decide
    const endpoint = await get(`${base}/.gatehouse/forward_auth`, headers);
    assert.equal(endpoint.status, 403, endpoint.text);
    // straight to a Gatehouse that does not trust this peer: no original request, 403
    const direct = await get(`${untrusted.url}/.gatehouse/forward_auth`, {
      ...headers,
      'x-forwarded-host': `127.0.0.1:${port}`,
      'x-forwarded-proto': 'http',
    });
    assert.equal(direct.status, 403, direct.text);
    const line = await untrusted.auditLine((l) => l.path === '/.gatehouse/forward_auth');
    assert.equal(line.reason, 'route_not_found');
    assert.equal(line.decision, 'deny');
  });

  describe('the headers Traefik ForwardAuth sends, from a trusted peer', () => {
    // https://doc.traefik.io/traefik/middlewares/http/forwardauth/: the original request's
    // headers plus X-Forwarded-Method, -Proto, -Host, -Uri and -For.
    const traefik = (method: string, uri: string, more: Record<string, string> = {}) =>
      get(`${gh.url}/.gatehouse/forward_auth`, {
        'x-forwarded-method': method,
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'app.example.com',
        'x-forwarded-uri': uri,
        'x-forwarded-for': '203.0.113.9',
        ...more,
      });

    it('allows a bearer with 200, every identity header named (empty when absent), no-store', async () => {
      const res = await traefik('POST', '/app/orders?id=7', { authorization: `Bearer ${token}` });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-auth-request-user'], 'machine');
      assert.ok(res.headers['x-gatehouse-assertion']);
      for (const name of IDENTITY_HEADERS) assert.equal(typeof res.headers[name], 'string', name);
      assert.equal(res.headers['x-auth-request-access-token'], '');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['content-length'], '0');
      const line = await gh.auditLine((l) => l.path === '/app/orders');
      assert.equal(line.route, 'app');
      assert.equal(line.decision, 'allow');
    });

    it('redirects a browser navigation to start on the original https URL', async () => {
      const res = await traefik('GET', '/app/x?a=1', { accept: 'text/html' });
      assert.equal(res.status, 302);
      const location = new URL(String(res.headers.location));
      assert.equal(location.pathname, '/.gatehouse/start');
      assert.equal(location.searchParams.get('rd'), 'https://app.example.com/app/x?a=1');
    });

    it('answers a POST without a session 401, a denied route 403, a public route 200 with blanks', async () => {
      const post = await traefik('POST', '/app/x', { accept: 'text/html' });
      assert.equal(post.status, 401);
      const denied = await traefik('GET', '/admin/', { authorization: `Bearer ${token}` });
      assert.equal(denied.status, 403);
      const open = await traefik('GET', '/static/logo.png', { 'x-auth-request-user': 'admin' });
      assert.equal(open.status, 200);
      assert.equal(open.headers['x-auth-request-user'], '');
      assert.equal(open.headers['x-gatehouse-assertion'], '');
    });

    it('refuses a repeated X-Forwarded-Uri or Method, and a bad URI, with 400', async () => {
      for (const line of [
        'X-Forwarded-Uri: /static/a\r\nX-Forwarded-Uri: /app/b',
        'X-Forwarded-Uri: /static/a\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Method: POST',
        'X-Forwarded-Uri: /static/%2e%2e%2fapp',
        'X-Forwarded-Uri: /static/%2Fx',
      ]) {
        const res = await rawRequest(
          gh.gh.publicAddress.port,
          `GET /.gatehouse/forward_auth HTTP/1.1\r\nHost: app.example.com\r\n${line}\r\nConnection: close`,
        );
        assert.equal(res.status, 400, line);
      }
      const none = await traefik('GET', '');
      assert.equal(none.status, 403);
    });

    it('matches routes on the path alone: a query, fragment or ;parameter never opens a route', async () => {
      // The public /static route must not be reached by spelling it in the query or fragment.
      for (const uri of ['/app/x?/static/y', '/app/x?next=/static', '/app/x#/static/y']) {
        const res = await traefik('GET', uri, { accept: 'application/json' });
        assert.equal(res.status, 401, uri);
      }
      // nor a protected one hidden behind a public prefix with a path parameter (Tomcat's ;jsessionid)
      for (const uri of ['/static;/../admin/', '/static/..;/admin/', '/admin;x=1/']) {
        const res = await traefik('GET', uri, { authorization: `Bearer ${token}` });
        assert.equal(res.status, 400, uri);
      }
    });
  });
});

describe('issue-17: the shipped Caddy and Traefik files copy every identity header', () => {
  const every = [...IDENTITY_HEADERS, 'x-gatehouse-assertion'].sort();
  const lower = (names: string[]) => names.map((n) => n.toLowerCase()).sort();
  const traefik = (name: string) => new URL(`../../config/traefik/${name}`, import.meta.url).pathname;

  it('Caddyfile copy_headers', () => {
    const line = readFileSync(CADDYFILE, 'utf8').match(/^\s*copy_headers (.+)$/m);
    assert.ok(line, 'a copy_headers line');
    assert.deepEqual(lower(line[1]!.trim().split(/\s+/)), every);
  });

  it('Traefik dynamic.yml and middleware.yaml authResponseHeaders, trustForwardHeader off', () => {
    const file = parse(readFileSync(traefik('dynamic.yml'), 'utf8'));
    const crd = parseAllDocuments(readFileSync(traefik('middleware.yaml'), 'utf8')).map((d) => d.toJS());
    const forwardAuths = [file.http.middlewares.gatehouse.forwardAuth, crd[0].spec.forwardAuth];
    assert.equal(crd[0].apiVersion, 'traefik.io/v1alpha1');
    for (const fa of forwardAuths) {
      assert.deepEqual(lower(fa.authResponseHeaders), every);
      assert.equal(fa.trustForwardHeader, false);
      assert.match(fa.address, /\/\.gatehouse\/forward_auth$/);
      const regex = new RegExp(fa.authResponseHeadersRegex.replace('(?i)', ''), 'i');
      for (const name of [...every, 'X_Auth_Request_User', 'X_gatehouse_assertion'])
        assert.match(name, regex);
      for (const name of ['x-forwarded-user', 'authorization', 'x-auth-requests'])
        assert.doesNotMatch(name, regex);
    }
  });
});
