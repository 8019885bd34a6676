/**
 * issue-17: Gatehouse behind ingress-nginx's external-auth annotations. The shipped
 * `config/ingress-nginx/ingress.yaml` (its two Ingresses, addresses swapped for loopback ports)
 * is rendered as ingress-nginx's nginx.tmpl renders it (`test/fixtures/ingress-nginx-template.ts`)
 * and run in Debian's nginx, with a real Gatehouse, the dev IdP, an echo upstream and Chromium.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { INGRESS_HTTP, type IngressPath, renderServer } from '../fixtures/ingress-nginx-template.ts';
import { chromiumSkip, launchChromium } from '../helpers/browser.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { echoedHeaders, getText } from '../helpers/http-get.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { nginxSkip, startNginx, type TestNginx } from '../helpers/nginx.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { machineToken } from './bearer-helpers.ts';

const INGRESS_YAML = new URL('../../config/ingress-nginx/ingress.yaml', import.meta.url);
const A = 'nginx.ingress.kubernetes.io/';

interface Ingress {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: {
    rules: Array<{
      host: string;
      http: {
        paths: Array<{ path: string; pathType: 'Prefix' | 'Exact'; backend: { service: { name: string } } }>;
      };
    }>;
  };
}

/** The shipped Ingresses as one host's paths, the cluster's addresses replaced by ports. */
function shippedPaths(o: { nginx: number; gatehouse: number; app: number }): {
  host: string;
  paths: IngressPath[];
} {
  const docs = parseAllDocuments(readFileSync(INGRESS_YAML, 'utf8')).map((d) => d.toJS() as Ingress);
  const backends: Record<string, string> = {
    app: `http://127.0.0.1:${o.app}`,
    gatehouse: `http://127.0.0.1:${o.gatehouse}`,
  };
  const swap = (v: string) =>
    v
      .replace('http://gatehouse.gatehouse.svc.cluster.local', `http://127.0.0.1:${o.gatehouse}`)
      .replace('https://app.example.com', `http://127.0.0.1:${o.nginx}`);
  const hosts = new Set(docs.flatMap((d) => d.spec.rules.map((r) => r.host)));
  assert.deepEqual([...hosts], ['app.example.com']);
  const paths = docs.flatMap((d) =>
    d.spec.rules.flatMap((r) =>
      r.http.paths.map((p) => ({
        path: p.path,
        pathType: p.pathType,
        backend: backends[p.backend.service.name]!,
        annotations: Object.fromEntries(
          Object.entries(d.metadata.annotations ?? {}).map(([k, v]) => [k, swap(v)]),
        ),
      })),
    ),
  );
  return { host: 'app.example.com', paths };
}

/** The commented-out `auth-snippet` of ingress.yaml, uncommented. */
function shippedSnippet(): string {
  const lines = readFileSync(INGRESS_YAML, 'utf8')
    .split('\n')
    .filter((l) => /^ {4}# {3}proxy_set_header /.test(l))
    .map((l) => l.replace(/^ {4}# {3}/, ''));
  assert.equal(lines.length, 2, 'ingress.yaml offers the auth-snippet');
  return lines.join('\n');
}

describe('issue-17: behind ingress-nginx, external-auth annotations', {
  skip: nginxSkip() || chromiumSkip(),
}, () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;
  let nginx: TestNginx;
  let browser: Browser;
  let port: number;
  let noMethodPort: number;
  let snippetPort: number;
  let base: string;
  let token: string;
  let identityHeaders: string[];

  before(async () => {
    port = await freePort();
    noMethodPort = await freePort();
    snippetPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ redirectUris: [`${base}/.gatehouse/callback`], accessTokenTtl: 300 });
    echo = await startEchoUpstream();
    gh = await startTestGatehouse(
      testConfig({
        idp,
        server: { public_url: base, trusted_proxies: ['127.0.0.1/32'] },
        session: { refresh_before: '1d' },
        bearer: [{ issuer: idp.issuer, audiences: ['api://demo'], typ: 'at+jwt' }],
        routes: [
          route('admin', '/admin', echo.url, { policy: { allow: [{ groups: ['admins'] }] } }),
          route('hosted', undefined, echo.url, {
            match: { host: 'app.example.com', path: '/hosted' },
            policy: { allow: [{ groups: ['admins'] }] },
          }),
          route('static', '/static', echo.url, { policy: 'public' }),
          route('app', '/', echo.url),
        ],
      }),
    );
    const ports = { nginx: port, gatehouse: gh.gh.publicAddress.port, app: echo.port };
    const site = shippedPaths(ports);
    identityHeaders = site.paths
      .flatMap((p) => (p.annotations[`${A}auth-response-headers`] ?? '').split(','))
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    // The same app Ingress without auth-method: what ingress-nginx sends by default.
    const noMethod = shippedPaths({ ...ports, nginx: noMethodPort }).paths.map((p) => {
      const { [`${A}auth-method`]: _, ...annotations } = p.annotations;
      return { ...p, annotations };
    });
    // The same with the optional auth-snippet of ingress.yaml uncommented.
    const withSnippet = shippedPaths({ ...ports, nginx: snippetPort }).paths.map((p) =>
      p.annotations[`${A}auth-url`]
        ? { ...p, annotations: { ...p.annotations, [`${A}auth-snippet`]: shippedSnippet() } }
        : p,
    );
    nginx = await startNginx({
      sites: [
        INGRESS_HTTP,
        renderServer({ listen: port, ...site }),
        renderServer({ listen: noMethodPort, host: site.host, paths: noMethod }),
        renderServer({ listen: snippetPort, host: site.host, paths: withSnippet }),
      ],
      ports: [port, noMethodPort, snippetPort],
    });
    token = await machineToken(idp);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await nginx?.close();
    await gh?.close();
    await echo?.close();
    await idp?.close();
  });

  const get = getText;
  const seen = echoedHeaders;

  it('lists every Gatehouse identity header in auth-response-headers', () => {
    for (const h of [
      'x-auth-request-user',
      'x-auth-request-email',
      'x-auth-request-preferred-username',
      'x-auth-request-groups',
      'x-auth-request-roles',
      'x-auth-request-access-token',
      'x-gatehouse-assertion',
    ])
      assert.ok(identityHeaders.includes(h), h);
  });

  it('passes a bearer token: the upstream gets X-Auth-Request-User and the audit line names the route', async () => {
    const res = await get(`${base}/app/api?q=1`, {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
    });
    assert.equal(res.status, 200, `${res.text}\n${nginx.errorLog()}`);
    const headers = seen(res.text);
    assert.equal(headers['x-auth-request-user'], 'machine');
    assert.ok(headers['x-gatehouse-assertion']);
    assert.equal(JSON.parse(res.text).url, '/app/api?q=1');
    const line = await gh.auditLine((l) => l.path === '/app/api' && l.decision === 'allow');
    assert.equal(line.route, 'app');
  });

  it('without auth-method, ingress-nginx sends only X-Original-URL, and Gatehouse decides on it', async () => {
    const res = await get(`http://127.0.0.1:${noMethodPort}/app/api?q=2`, {
      authorization: `Bearer ${token}`,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(seen(res.text)['x-auth-request-user'], 'machine');
    const line = await gh.auditLine(
      (l) => l.path === '/app/api' && l.decision === 'allow' && l.method === 'GET',
    );
    assert.equal(line.route, 'app');
  });

  it("a client's own X-Original-URI or X-Forwarded-Uri beside the proxy's description is refused, never believed", async () => {
    for (const header of ['x-original-uri', 'x-forwarded-uri']) {
      const before = echo.requests.length;
      // without auth-method the client's header rides along beside ingress-nginx's X-Original-URL:
      // two descriptions that disagree are a 400, which nginx turns into a 500 – never the upstream
      const refused = await get(`http://127.0.0.1:${noMethodPort}/admin/secret`, { [header]: '/static/x' });
      assert.equal(refused.status, 500, header);
      assert.equal(echo.requests.length, before, header);
      const line = await gh.auditLine((l) => l.reason === 'bad_request');
      assert.equal(line.decision, 'error');
      // with auth-method, nginx's X-Original-URI replaces the client's copy
      const shut = await get(`${base}/admin/secret`, { [header]: '/static/x', accept: 'application/json' });
      assert.notEqual(shut.status, 200, header);
      assert.equal(echo.requests.length, before, header);
    }
  });

  it('a client-sent identity header never reaches the upstream, whether Gatehouse answers it set or not at all', async () => {
    const forged = {
      'x-auth-request-user': 'admin',
      'x-auth-request-email': 'root@example.com',
      'x-auth-request-groups': 'admins',
      'x-auth-request-roles': 'admin',
      'x-auth-request-access-token': 'forged',
      'x-gatehouse-assertion': 'eyJhbGciOiJub25lIn0.e30.',
    };
    const auth = await request(`${gh.url}/.gatehouse/auth`, {
      headers: { authorization: `Bearer ${token}`, 'x-original-uri': '/app/x' },
    });
    await auth.body.dump();
    assert.equal(auth.statusCode, 202);
    const res = await get(`${base}/app/spoof`, { authorization: `Bearer ${token}`, ...forged });
    assert.equal(res.status, 200, res.text);
    const headers = seen(res.text);
    for (const [name, value] of Object.entries(forged)) {
      assert.notEqual(headers[name], value, name);
      const answered = auth.headers[name];
      // nginx sends no header for an empty value, and Gatehouse's answer (or nothing) replaces the client's
      assert.equal(headers[name], answered ? String(answered) : undefined, name);
    }
    // nor with no credentials at all: the request goes to sign in, never upstream
    const before = echo.requests.length;
    const anon = await get(`${base}/app/spoof`, forged);
    assert.equal(anon.status, 302);
    assert.equal(echo.requests.length, before);
  });

  it('passes a header not listed in auth-response-headers from the client untouched (why the list must be complete)', async () => {
    const res = await get(`${base}/app/unlisted`, {
      authorization: `Bearer ${token}`,
      'x-forwarded-user': 'admin',
    });
    assert.equal(res.status, 200);
    assert.equal(seen(res.text)['x-forwarded-user'], 'admin');
  });

  it("keeps Gatehouse's decision endpoints off the Ingress: /.gatehouse/auth is an app path there", async () => {
    for (const name of ['auth', 'forward_auth', 'ext_authz/app/x']) {
      const res = await get(`${base}/.gatehouse/${name}`, { authorization: `Bearer ${token}` });
      assert.equal(res.status, 200, `${name}: ${res.text}`);
      // the echo upstream answered, after the auth subrequest – not Gatehouse's 202 / 200 decision
      assert.equal(JSON.parse(res.text).url, `/.gatehouse/${name}`, name);
      assert.equal(seen(res.text)['x-auth-request-user'], 'machine');
    }
  });

  it('forbids bob on /admin with 403; the upstream never sees it', async () => {
    const bob = new CookieJar();
    const login = await loginThroughIdp(`${base}/app/`, 'bob', bob);
    assert.equal(login.status, 200, login.body);
    assert.equal(seen(login.body)['x-auth-request-user'], 'bob');
    const before = echo.requests.length;
    const denied = await get(`${base}/admin/panel`, { accept: 'text/html', cookie: bob.header(base)! });
    assert.equal(denied.status, 403);
    assert.equal(echo.requests.length, before);
    const line = await gh.auditLine((l) => l.path === '/admin/panel' && l.decision === 'deny');
    assert.equal(line.route, 'admin');

    // refresh_before (1d) > the access token's 300 s: /auth refreshes, and the cookie reaches bob
    const again = await request(`${base}/app/again`, {
      headers: { accept: 'text/html', cookie: bob.header(base)! },
    });
    const text = await again.body.text();
    assert.equal(again.statusCode, 200, text);
    const cookies = [again.headers['set-cookie'] ?? []].flat();
    assert.equal(cookies.length, 1, cookies.join('\n'));
    assert.match(cookies[0]!, /^gatehouse=Fe26\.2\*[^;]+; Path=\/;.*HttpOnly/);
    assert.equal(seen(text)['x-auth-request-user'], 'bob');
  });

  it('matches routes with `host:` from X-Original-URL, or with auth-method only through the auth-snippet', async () => {
    const headers = { host: 'app.example.com', authorization: `Bearer ${token}` };
    // with X-Forwarded-Host from the snippet, the host route's policy applies: machine is no admin
    const before = echo.requests.length;
    const strict = await get(`http://127.0.0.1:${snippetPort}/hosted/x`, headers);
    assert.equal(strict.status, 403, strict.text);
    assert.equal(echo.requests.length, before);
    const line = await gh.auditLine((l) => l.path === '/hosted/x' && l.decision === 'deny');
    assert.equal(line.route, 'hosted');
    // without it, the same request matches the catch-all route instead – and is let through
    const loose = await get(`${base}/hosted/y`, headers);
    assert.equal(loose.status, 200, loose.text);
    const other = await gh.auditLine((l) => l.path === '/hosted/y' && l.decision === 'allow');
    assert.equal(other.route, 'app');
    // and without it a client's own X-Forwarded-Host reaches /auth: the client picks the host
    const picked = await get(`${base}/hosted/z`, { ...headers, 'x-forwarded-host': 'app.example.com' });
    assert.equal(picked.status, 403);
    // with it, nginx's value replaces the client's
    const forced = await get(`http://127.0.0.1:${snippetPort}/hosted/w`, {
      ...headers,
      'x-forwarded-host': 'elsewhere.example',
    });
    assert.equal(forced.status, 403);
    // without auth-method, X-Original-URL (set by ingress-nginx) names the host: the host route decides
    const named = await get(`http://127.0.0.1:${noMethodPort}/hosted/v`, {
      ...headers,
      'x-forwarded-host': 'elsewhere.example',
    });
    assert.equal(named.status, 403, named.text);
    const hosted = await gh.auditLine((l) => l.path === '/hosted/v');
    assert.deepEqual([hosted.route, hosted.host], ['hosted', 'app.example.com']);
  });

  it('sends every 401 to auth-signin (API clients too: ingress-nginx has no browser test)', async () => {
    const cases: Record<string, string>[] = [{ accept: 'text/html' }, { accept: 'application/json' }, {}];
    for (const headers of cases) {
      const res = await get(`${base}/app/page?x=1`, headers);
      assert.equal(res.status, 302, JSON.stringify(headers));
      assert.equal(res.headers.location, `${base}/.gatehouse/start?rd=/app/page?x=1`);
    }
  });

  it('a browser without a session signs in through the IdP and lands on the page with its identity upstream', async () => {
    const target = `${base}/app/page?x=1`;
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
    } finally {
      await page.close();
    }
  });
});
