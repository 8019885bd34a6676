/**
 * issue-6: Gatehouse behind a real nginx (auth_request mode), from the shipped files –
 * `config/nginx/site.example.conf` templated for ports only, the snippets copied unchanged – with
 * a real Gatehouse, the real dev IdP and an echo upstream behind nginx that records what it gets.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { normalizeHeaderName } from '../../src/identity/strip-inbound.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { echoedHeaders, getText } from '../helpers/http-get.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { NGINX_CONFIG_DIR, nginxSkip, shippedSite, startNginx, type TestNginx } from '../helpers/nginx.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { waitFor } from '../helpers/wait.ts';
import { machineToken } from './bearer-helpers.ts';

const IDENTITY = new Set([
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-preferred-username',
  'x-auth-request-groups',
  'x-auth-request-roles',
  'x-auth-request-access-token',
  'x-gatehouse-assertion',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'gap-auth',
]);

function gatehouseYaml(o: { idp: DevIdp; publicPort: number; app: string; trusted: string }): string {
  return testConfig({
    idp: o.idp,
    server: { public_url: `http://127.0.0.1:${o.publicPort}`, trusted_proxies: [o.trusted] },
    session: { refresh_before: '1d' },
    bearer: [{ issuer: o.idp.issuer, audiences: ['api://demo'], typ: 'at+jwt' }],
    routes: [
      route('admin', '/admin', o.app, { policy: { allow: [{ groups: ['admins'] }] } }),
      route('static', '/static', o.app, { policy: 'public' }),
      route('limited', '/limited', o.app, {
        policy: 'public',
        rate_limit: { per: 'ip', requests: 2, window: '1m' },
      }),
      route('app', '/', o.app),
    ],
  });
}

/** The test's own second server: the same snippets with `underscores_in_headers on`. */
function underscoreServer(port: number): string {
  return `
server {
    listen 127.0.0.1:${port};
    underscores_in_headers on;
    include snippets/gatehouse-endpoints.conf;
    location / {
        include snippets/gatehouse-location.conf;
        proxy_pass http://app;
    }
    location /static/ {
        include snippets/gatehouse-public.conf;
        proxy_pass http://app;
    }
}
`;
}

/** A server using a copy of gatehouse-endpoints.conf with the auth-cache include uncommented. */
function cachedServer(port: number): string {
  return `
server {
    listen 127.0.0.1:${port};
    include snippets/gatehouse-endpoints-cached.conf;
    location / {
        include snippets/gatehouse-location.conf;
        proxy_pass http://app;
    }
}
`;
}

function cachedEndpoints(): string {
  const text = readFileSync(join(NGINX_CONFIG_DIR, 'gatehouse-endpoints.conf'), 'utf8');
  const on = text.replace('# include snippets/auth-cache.conf;', 'include snippets/auth-cache.conf;');
  assert.notEqual(on, text, 'gatehouse-endpoints.conf offers the auth-cache include');
  return on;
}

describe('issue-6: behind nginx, auth_request mode with the shipped snippets', { skip: nginxSkip() }, () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;
  let untrusted: TestGatehouse;
  let nginx: TestNginx;
  let port: number;
  let underscorePort: number;
  let cachePort: number;
  let base: string;
  let token: string;

  before(async () => {
    port = await freePort();
    underscorePort = await freePort();
    cachePort = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ redirectUris: [`${base}/.gatehouse/callback`], accessTokenTtl: 300 });
    echo = await startEchoUpstream();
    gh = await startTestGatehouse(
      gatehouseYaml({ idp, publicPort: port, app: echo.url, trusted: '127.0.0.1/32' }),
    );
    // Same config, but nginx's (and our) address is not a trusted proxy.
    untrusted = await startTestGatehouse(
      gatehouseYaml({ idp, publicPort: port, app: echo.url, trusted: '192.0.2.1/32' }),
    );
    const site = shippedSite({
      listen: port,
      gatehouse: gh.gh.publicAddress.port,
      app: echo.port,
    });
    nginx = await startNginx({
      sites: [site, underscoreServer(underscorePort), cachedServer(cachePort)],
      ports: [port, underscorePort, cachePort],
      extraSnippets: { 'gatehouse-endpoints-cached.conf': cachedEndpoints() },
    });
    token = await machineToken(idp);
  });
  after(async () => {
    await nginx?.close();
    await gh?.close();
    await untrusted?.close();
    await echo?.close();
    await idp?.close();
  });

  const get = getText;
  const seen = echoedHeaders;

  it('sends a browser without a session to start with the whole original URL, then back to it after a real login', async () => {
    const page = `${base}/app/page?x=1&y=a%20b`;
    const first = await get(page, { accept: 'text/html' });
    assert.equal(first.status, 302, nginx.errorLog());
    const location = new URL(String(first.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, `${base}/.gatehouse/start`);
    // nginx cannot percent-encode $request_uri: the rd travels in a header to sign_in, whole.
    assert.equal(location.searchParams.get('rd'), page);

    const jar = new CookieJar();
    const done = await loginThroughIdp(page, 'alice', jar);
    assert.equal(done.finalUrl, page, done.visited.join(' → '));
    assert.equal(done.status, 200, done.body);
    const headers = seen(done.body);
    assert.equal(headers['x-auth-request-user'], 'alice');
    assert.equal(headers['x-auth-request-email'], 'alice@example.com');
    assert.equal(headers['x-auth-request-preferred-username'], 'alice');
    assert.equal(headers['x-auth-request-groups'], 'admins,eng');
    assert.ok(headers['x-gatehouse-assertion']);
    assert.equal(JSON.parse(done.body).url, '/app/page?x=1&y=a%20b');
    // every hop of the login went through nginx or the IdP, never straight to Gatehouse
    assert.ok(done.visited.every((u) => u.startsWith(base) || u.startsWith(idp.issuer)));
  });

  it('answers API clients and failed bearer tokens with the 401 and WWW-Authenticate, not a redirect', async () => {
    const cases: Record<string, string>[] = [
      { accept: 'application/json' },
      {},
      { accept: 'text/html', 'sec-fetch-mode': 'cors', authorization: 'Bearer not-a-token' },
      { accept: 'text/html', authorization: 'Bearer not-a-token' },
    ];
    for (const headers of cases) {
      const res = await get(`${base}/app/data`, headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.match(
        String(res.headers['www-authenticate']),
        /^Bearer realm="gatehouse"/,
        JSON.stringify(headers),
      );
      assert.equal(res.headers.location, undefined);
    }
    const bad = await get(`${base}/app/data`, { authorization: 'Bearer not-a-token' });
    assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/);
  });

  it('issue-19: a page script nginx sends to sign_in gets 401 JSON with sign_in_url, never a redirect', async () => {
    const page = `${base}/app/page?x=1&y=2`;
    const scripts: Record<string, string>[] = [
      { accept: '*/*', 'sec-fetch-mode': 'cors' },
      { accept: 'application/json', 'sec-fetch-mode': 'same-origin' },
      { accept: 'text/html, */*', 'x-requested-with': 'XMLHttpRequest' },
      { accept: 'application/json, text/html;q=0.5' },
    ];
    for (const headers of scripts) {
      const res = await get(`${base}/app/data?z=1&w=2`, { ...headers, referer: page });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.headers.location, undefined);
      assert.match(String(res.headers['www-authenticate']), /^Bearer realm="gatehouse"/);
      const body = JSON.parse(res.text);
      assert.equal(body.error, 'no_credentials');
      const signIn = new URL(body.sign_in_url);
      assert.equal(`${signIn.origin}${signIn.pathname}`, `${base}/.gatehouse/start`);
      assert.equal(signIn.searchParams.get('rd'), page, 'back to the page, not the API it called');
    }
    // Without a Referer: back to the URL called, whole (it travelled in a header). A cross-site
    // Referer is never a return target.
    for (const referer of [undefined, 'https://evil.example/x']) {
      const res = await get(`${base}/app/data?z=1&w=2`, {
        accept: '*/*',
        'sec-fetch-mode': 'cors',
        ...(referer ? { referer } : {}),
      });
      assert.equal(
        new URL(JSON.parse(res.text).sign_in_url).searchParams.get('rd'),
        `${base}/app/data?z=1&w=2`,
      );
    }
  });

  it('passes a valid bearer: the upstream sees X-Auth-Request-User machine and a verifiable assertion', async () => {
    const res = await get(`${base}/app/api`, {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
    });
    assert.equal(res.status, 200, res.text);
    const headers = seen(res.text);
    assert.equal(headers['x-auth-request-user'], 'machine');
    const jwks = JSON.parse((await get(`${base}/.gatehouse/jwks.json`)).text);
    const { payload, protectedHeader } = await jwtVerify(
      headers['x-gatehouse-assertion']!,
      createLocalJWKSet(jwks),
      {
        issuer: base,
        audience: echo.url,
      },
    );
    assert.equal(payload.sub, 'machine');
    assert.equal(payload.auth_type, 'bearer');
    assert.equal(protectedHeader.alg, 'ES256');
    assert.ok(protectedHeader.kid);
  });

  it('forbids bob on the admin location (403) and lets alice in', async () => {
    const bob = new CookieJar();
    const bobLogin = await loginThroughIdp(`${base}/app/`, 'bob', bob);
    assert.equal(bobLogin.status, 200, bobLogin.body);
    const before = echo.requests.length;
    const denied = await get(`${base}/admin/panel`, { accept: 'text/html', cookie: bob.header(base)! });
    assert.equal(denied.status, 403);
    assert.equal(echo.requests.length, before, 'the upstream never saw the denied request');

    const alice = new CookieJar();
    const aliceLogin = await loginThroughIdp(`${base}/admin/panel`, 'alice', alice);
    assert.equal(aliceLogin.status, 200, aliceLogin.body);
    assert.equal(seen(aliceLogin.body)['x-auth-request-user'], 'alice');
  });

  it('gives the client 429 with Retry-After and RateLimit headers when a route limit is spent', async () => {
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await get(`${base}/limited/x`)).status);
    assert.deepEqual(statuses, [200, 200]);
    const res = await request(`${base}/limited/x`);
    await res.body.dump();
    assert.equal(res.statusCode, 429, nginx.errorLog().slice(-500));
    assert.ok(Number(res.headers['retry-after']) >= 29, String(res.headers['retry-after']));
    assert.equal(res.headers['ratelimit-policy'], '"limited";q=2;w=60');
    assert.match(String(res.headers.ratelimit), /^"limited";r=0;t=\d+$/);
    const line = await gh.auditLine((l) => l.reason === 'rate_limited' && l.route === 'limited');
    assert.equal(line.path, '/limited/x');
  });

  it('passes a refreshed session cookie from /auth on to the browser', async () => {
    const jar = new CookieJar();
    assert.equal((await loginThroughIdp(`${base}/app/`, 'bob', jar)).status, 200);
    for (let i = 0; i < 2; i++) {
      const before = jar.get('gatehouse', base);
      assert.ok(before);
      const res = await request(`${base}/app/again`, {
        headers: { accept: 'text/html', cookie: jar.header(base)! },
      });
      const text = await res.body.text();
      assert.equal(res.statusCode, 200, text);
      // refresh_before (1d) > the access token's 300 s: every request refreshes, and says so
      const cookies = [res.headers['set-cookie'] ?? []].flat();
      assert.equal(cookies.length, 1, cookies.join('\n'));
      assert.match(cookies[0]!, /^gatehouse=Fe26\.2\*[^;]+; Path=\/;.*HttpOnly/);
      jar.setFrom(base, cookies);
      assert.notEqual(jar.get('gatehouse', base), before, 'a new sealed session');
      assert.equal(seen(text)['x-auth-request-user'], 'bob');
    }
  });

  describe('spoofed identity headers never reach the upstream', () => {
    // [header line, default server: status, underscores_in_headers on: status]
    const spoofs: Array<[string, number, number]> = [
      ['X-Auth-Request-User: admin', 400, 400],
      ['x-auth-request-groups: admins', 400, 400],
      ['X-AUTH-REQUEST-ROLES: admin', 400, 400],
      ['X-Gatehouse-Assertion: eyJhbGciOiJub25lIn0.e30.', 400, 400],
      ['X-Auth-Request-Email: root@example.com', 400, 400],
      ['X-Forwarded-User: admin', 400, 400],
      // nginx drops names with '_' by default, so these are served (without them)
      ['X_Auth_Request_User: admin', 200, 400],
      ['x_auth_request_groups: admins', 200, 400],
      ['X-Auth_Request-User: admin', 200, 400],
      ['X_GATEHOUSE_ASSERTION: forged', 200, 400],
    ];
    for (const [line, onDefault, onUnderscores] of spoofs) {
      for (const [name, path] of [
        ['protected', '/app/spoof'],
        ['public', '/static/spoof'],
      ] as const) {
        it(`${line} on a ${name} location`, async () => {
          for (const [p, expected] of [
            [port, onDefault],
            [underscorePort, onUnderscores],
          ] as const) {
            const before = echo.requests.length;
            const res = await rawRequest(
              p,
              `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nAuthorization: Bearer ${token}\r\n${line}\r\nConnection: close`,
            );
            assert.equal(res.status, expected, `${line} on port ${p === port ? 'default' : 'underscores'}`);
            if (expected !== 200) {
              assert.equal(echo.requests.length, before, 'nothing reached the upstream');
              continue;
            }
            const got = echo.requests.at(-1)!;
            for (let i = 0; i < got.rawHeaders.length; i += 2) {
              const key = normalizeHeaderName(got.rawHeaders[i]!);
              if (!IDENTITY.has(key)) continue;
              assert.ok(path.startsWith('/app'), `a public location got ${got.rawHeaders[i]}`);
              assert.equal(
                got.rawHeaders[i],
                got.rawHeaders[i]!.replaceAll('_', '-'),
                'no underscore spelling',
              );
              if (key === 'x-auth-request-user') assert.equal(got.rawHeaders[i + 1], 'machine');
            }
          }
        });
      }
    }

    it('clients cannot reach the internal /auth location or feed headers nginx sets for Gatehouse', async () => {
      for (const path of [
        '/.gatehouse/auth',
        '/.gatehouse//auth',
        '/.gatehouse/%61uth',
        '/.gatehouse/./auth',
      ]) {
        const res = await get(`${base}${path}`, { 'x-original-uri': '/static/x' });
        assert.equal(res.status, 404, path);
      }
      // sign_in reached from outside: the client's X-Auth-Request-Redirect is cleared by nginx
      const res = await get(`${base}/.gatehouse/sign_in`, {
        'x-auth-request-redirect': 'https://evil.example/',
      });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, `${base}/.gatehouse/start`);
    });
  });

  describe('/auth never says 2xx to an unauthenticated request', () => {
    const agents = [
      'kube-probe/1.31',
      'ELB-HealthChecker/2.0',
      'GoogleHC/1.0',
      'Prometheus/2.53',
      'curl/8.0',
      '',
    ];
    const uris = [
      '/healthz',
      '/health',
      '/ping',
      '/metrics',
      '/readyz',
      '/favicon.ico',
      '/robots.txt',
      '/.well-known/acme-challenge/x',
      '/app/healthz',
      '/app/static/logo.png',
      '/static/../app/x',
      '/static/%2e%2e/app/x',
      '//static/../admin',
      '/STATIC/x',
      '/admin',
    ];
    it('whatever the User-Agent, original path or method', async () => {
      const answers = new Set<number>();
      for (const ua of agents) {
        for (const uri of uris) {
          for (const method of ['GET', 'HEAD', 'OPTIONS']) {
            const res = await request(`${gh.url}/.gatehouse/auth`, {
              headers: { 'user-agent': ua, 'x-original-uri': uri, 'x-original-method': method },
            });
            await res.body.dump();
            answers.add(res.statusCode);
            assert.ok(res.statusCode >= 400, `${ua} ${method} ${uri} → ${res.statusCode}`);
            assert.equal(res.headers['x-auth-request-user'], undefined);
          }
        }
      }
      assert.deepEqual([...answers].sort(), [401]);
      // no original at all, or a path Gatehouse refuses: still no 2xx
      for (const headers of [
        {},
        { 'x-original-uri': '/%2e%2e/%2e%2e/etc' },
        { 'x-original-uri': 'http://x/' },
      ]) {
        const res = await request(`${gh.url}/.gatehouse/auth`, {
          headers: { 'user-agent': 'kube-probe/1.31', ...headers },
        });
        await res.body.dump();
        assert.ok(
          res.statusCode === 400 || res.statusCode === 403,
          `${JSON.stringify(headers)} → ${res.statusCode}`,
        );
      }
    });

    it('nor through nginx, for a health-check agent on a health-looking path', async () => {
      const before = echo.requests.length;
      for (const path of ['/healthz', '/app/healthz', '/static/../app/healthz']) {
        const res = await get(`${base}${path}`, { 'user-agent': 'kube-probe/1.31', accept: '*/*' });
        assert.equal(res.status, 401, path);
      }
      assert.equal(echo.requests.length, before);
    });

    it('ignores X-Original-URI and X-Forwarded-Uri from an untrusted peer', async () => {
      for (const header of ['x-original-uri', 'x-forwarded-uri']) {
        // trusted: a public original is allowed (202, no identity)
        const trusted = await request(`${gh.url}/.gatehouse/auth`, { headers: { [header]: '/static/x' } });
        await trusted.body.dump();
        assert.equal(trusted.statusCode, 202, header);
        // untrusted: the header is not read, so there is no original request to allow
        const res = await request(`${untrusted.url}/.gatehouse/auth`, { headers: { [header]: '/static/x' } });
        await res.body.dump();
        assert.equal(res.statusCode, 403, header);
        const withToken = await request(`${untrusted.url}/.gatehouse/auth`, {
          headers: { [header]: '/app/x', authorization: `Bearer ${token}` },
        });
        await withToken.body.dump();
        assert.equal(withToken.statusCode, 403, `${header} with a valid token`);
      }
    });
  });

  describe('auth-cache.conf (optional)', () => {
    const decisions = () => gh.audit().length;
    it('answers a repeated allow from the cache, keyed by URI too: a cached allow is never replayed for another route', async () => {
      const cached = `http://127.0.0.1:${cachePort}`;
      const auth = { authorization: `Bearer ${token}`, accept: 'application/json' };
      const first = await get(`${cached}/app/cached`, auth);
      assert.equal(first.status, 200, first.text);
      // The audit line is written once the answer is done: count from when it is in the file.
      await gh.auditLine((l) => l.path === '/app/cached' && l.decision === 'allow');
      await gh.gh.current().audit.flush();
      const after1 = decisions();
      for (let i = 0; i < 3; i++) {
        const again = await get(`${cached}/app/cached`, auth);
        assert.equal(again.status, 200);
        assert.equal(seen(again.text)['x-auth-request-user'], 'machine');
      }
      await gh.gh.current().audit.flush();
      assert.equal(decisions(), after1, 'Gatehouse decided once; nginx answered the rest from its cache');
      // same credentials, other URI: not a cache hit – the admin route says 403
      const admin = await get(`${cached}/admin/cached`, auth);
      assert.equal(admin.status, 403);
      assert.equal((await get(`${cached}/admin/cached`, auth)).status, 403, 'denials are never cached');
      await waitFor(() => decisions() >= after1 + 2, { timeoutMs: 3000, what: 'both denials audited' });
      await gh.gh.current().audit.flush();
      assert.equal(decisions(), after1 + 2);
      // no credentials: a 401 every time, never someone's cached allow
      assert.equal((await get(`${cached}/app/cached`, { accept: 'application/json' })).status, 401);
    });
  });
});
