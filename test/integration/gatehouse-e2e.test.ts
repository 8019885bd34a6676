/**
 * The whole product through its real server: a real OpenID Provider (oidc-provider), a real
 * echo upstream, Gatehouse in proxy mode. Login, policy, bearer tokens, identity headers, the
 * signed assertion, sign-out and the audit trail – as users and upstreams see them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { request } from 'undici';
import WebSocket from 'ws';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { idpBearer, route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { machineToken as machineTokenFrom } from './bearer-helpers.ts';

let idp: DevIdp;
let upstream: EchoUpstream;
let gh: TestGatehouse;

const machineToken = () => machineTokenFrom(idp);

function lastUpstream() {
  const r = upstream.requests.at(-1);
  assert.ok(r, 'the upstream received a request');
  return r;
}

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${gh.url}${path}`, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

before(async () => {
  upstream = await startEchoUpstream();
  const port = await freePort();
  idp = await startDevIdp({
    redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`],
    postLogoutRedirectUris: [`http://127.0.0.1:${port}/`],
  });
  gh = await startTestGatehouse(
    testConfig({
      idp,
      bearer: [idpBearer(idp, { algorithms: ['ES256'], typ: 'at+jwt' })],
      roles: { claims: ['groups'], map: { admins: 'admin', eng: 'engineer' } },
      routes: [
        route('public', '/public', upstream.url, { policy: 'public' }),
        route('admin', '/admin', upstream.url, { policy: { allow: [{ roles: ['admin'] }] } }),
        route('api', '/api', upstream.url, { auth: ['bearer'] }),
        route('app', '/', upstream.url, { auth: ['session'] }),
      ],
    }),
    { port },
  );
  await gh.ready();
});

after(async () => {
  await gh?.close();
  await idp?.close();
  await upstream?.close();
});

describe('gatehouse end to end', () => {
  it('sends a browser to the login and an API client a 401 with WWW-Authenticate', async () => {
    const browser = await get('/admin/users?x=1', { accept: 'text/html' });
    assert.equal(browser.status, 302);
    assert.equal(
      browser.headers.location,
      `${gh.url}/.gatehouse/start?rd=${encodeURIComponent(`${gh.url}/admin/users?x=1`)}`,
    );
    const api = await get('/admin/users', { accept: 'application/json' });
    assert.equal(api.status, 401);
    assert.equal(
      api.headers['www-authenticate'],
      `Bearer realm="gatehouse", resource_metadata="${gh.url}/.well-known/oauth-protected-resource/admin"`,
    );
    assert.equal((JSON.parse(api.text) as { error: string }).error, 'no_credentials');
  });

  it('logs alice in through the IdP and lands on the original URL with her identity upstream', async () => {
    const jar = new CookieJar();
    const first = await get('/admin/users', { accept: 'text/html' });
    const result = await loginThroughIdp(
      new URL(first.headers.location as string, gh.url).href,
      'alice',
      jar,
    );
    assert.equal(result.finalUrl, `${gh.url}/admin/users`);
    assert.equal(result.status, 200);
    const seen = lastUpstream();
    assert.equal(seen.url, '/admin/users');
    assert.equal(seen.headers['x-auth-request-user'], 'alice');
    assert.equal(seen.headers['x-auth-request-email'], 'alice@example.com');
    assert.equal(seen.headers['x-auth-request-groups'], 'admins,eng');
    assert.equal(seen.headers['x-auth-request-roles'], 'admin,engineer');
    // The jar also holds the IdP's own cookies (cookies ignore ports); Gatehouse's never go upstream.
    assert.ok(
      jar.names().some((n) => n.startsWith('gatehouse')),
      'the browser holds a session cookie',
    );
    assert.doesNotMatch(
      String(seen.headers.cookie ?? ''),
      /(^|;\s*)(__Host-)?gatehouse/,
      'no Gatehouse cookie upstream',
    );

    // The assertion verifies against the published JWKS with the right issuer and audience.
    const jwks = JSON.parse((await get('/.gatehouse/jwks.json')).text);
    const { payload, protectedHeader } = await jwtVerify(
      seen.headers['x-gatehouse-assertion'] as string,
      createLocalJWKSet(jwks),
      { issuer: gh.url, audience: new URL(upstream.url).origin },
    );
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, 'alice');
    assert.deepEqual(payload.roles, ['admin', 'engineer']);
    assert.equal(payload.auth_type, 'session');
    assert.ok((payload.exp as number) - (payload.iat as number) <= 300);

    // userinfo shows what policies see.
    const me = await get('/.gatehouse/userinfo', { cookie: jar.header(gh.url) as string });
    assert.equal(me.status, 200);
    const info = JSON.parse(me.text) as { sub: string; groups: string[]; roles: string[]; auth_type: string };
    assert.deepEqual(
      [info.sub, info.groups, info.roles, info.auth_type],
      ['alice', ['admins', 'eng'], ['admin', 'engineer'], 'session'],
    );
  });

  it('denies bob on the admin route with 403 and an audit line saying why, and lets him into the app', async () => {
    const jar = new CookieJar();
    const login = await loginThroughIdp(`${gh.url}/.gatehouse/start?rd=%2Fhome`, 'bob', jar);
    assert.equal(login.finalUrl, `${gh.url}/home`);
    assert.equal(lastUpstream().headers['x-auth-request-user'], 'bob');
    const denied = await get('/admin', { cookie: jar.header(gh.url) as string, accept: 'application/json' });
    assert.equal(denied.status, 403);
    const body = JSON.parse(denied.text) as { error: string; request_id: string };
    assert.equal(body.error, 'no_rule_matched');
    const line = await gh.auditLine((l) => l.request_id === body.request_id, { what: 'the 403 audit line' });
    assert.equal(line.route, 'admin');
    assert.equal(line.sub, 'bob');
    assert.equal(line.decision, 'deny');
    assert.equal(line.reason, 'no_rule_matched');
    assert.equal(line.status, 403);
    assert.equal(line.auth_type, 'session');
  });

  it('accepts a machine bearer token on the API route and refuses bad ones with RFC 6750 errors', async () => {
    const token = await machineToken();
    const ok = await get('/api/orders', { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    assert.equal(lastUpstream().headers['x-auth-request-user'], 'machine');

    const tampered = `${token.slice(0, -4)}AAAA`;
    const bad = await get('/api/orders', { authorization: `Bearer ${tampered}` });
    assert.equal(bad.status, 401);
    assert.match(
      bad.headers['www-authenticate'] as string,
      /^Bearer realm="gatehouse", error="invalid_token"/,
    );

    // A session-only route does not read bearer tokens.
    const wrongKind = await get('/home', { authorization: `Bearer ${token}` });
    assert.equal(wrongKind.status, 401);
    // Audit lines follow the responses: waited for, not read once.
    await gh.auditLine((l) => l.reason === 'bad_signature', { what: 'the bad_signature audit line' });
    await gh.auditLine((l) => l.reason === 'auth_type_not_allowed', {
      what: 'the auth_type_not_allowed line',
    });
    const all = JSON.stringify(gh.audit());
    assert.ok(!all.includes(token.slice(20, 60)), 'no token in the audit log');
  });

  it('never lets a spoofed identity header reach the upstream, public routes included', async () => {
    const token = await machineToken();
    const spoof = {
      'X-Auth-Request-User': 'root',
      x_auth_request_groups: 'admins',
      'X-AUTH-REQUEST-ROLES': 'admin',
      'x-auth-request-email': 'root@example.com',
      'X-Gatehouse-Assertion': 'forged',
      x_gatehouse_assertion: 'forged',
      // A CGI gateway reads a `.` in a header name as `_`: HTTP_X_AUTH_REQUEST_PREFERRED_USERNAME.
      'X.Auth.Request.Preferred-Username': 'root',
    };
    for (const [path, extra] of [
      ['/public/x', {}],
      ['/api/x', { authorization: `Bearer ${token}` }],
    ] as const) {
      const res = await get(path, { ...spoof, ...extra });
      assert.equal(res.status, 200, path);
      const seen = lastUpstream();
      const names = Object.keys(seen.headers);
      assert.ok(!names.some((n) => /^x[-_]auth[-_]request[-_]/.test(n) && seen.headers[n] === 'root'), path);
      assert.ok(!names.includes('x_auth_request_groups') && !names.includes('x_gatehouse_assertion'), path);
      assert.ok(!names.includes('x.auth.request.preferred-username'), path);
      assert.notEqual(seen.headers['x-gatehouse-assertion'], 'forged', path);
      assert.notEqual(seen.headers['x-auth-request-roles'], 'admin', path);
    }
  });

  it('signs out, and the copied old cookie is refused afterwards', async () => {
    const jar = new CookieJar();
    await loginThroughIdp(`${gh.url}/.gatehouse/start?rd=%2Fhome`, 'alice', jar);
    const cookie = jar.header(gh.url) as string;
    assert.equal((await get('/home', { cookie })).status, 200);
    const out = await request(`${gh.url}/.gatehouse/sign_out`, { method: 'POST', headers: { cookie } });
    await out.body.dump();
    assert.equal(out.statusCode, 302);
    assert.match(String(out.headers.location), new RegExp(`^${idp.issuer}/session/end\\?`));
    const replay = await get('/home', { cookie, accept: 'application/json' });
    assert.equal(replay.status, 401);
    await gh.auditLine((l) => l.reason === 'session_revoked', { what: 'the revocation audit line' });
  });

  it('passes websocket upgrades through the same policy, with an audit line for each', async () => {
    const token = await machineToken();
    const wsUrl = `${gh.url.replace('http', 'ws')}/api/stream`;
    const echoed = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
      ws.once('open', () => ws.send('ping'));
      ws.once('message', (data) => {
        resolve(String(data));
        ws.close();
      });
      ws.once('error', reject);
    });
    assert.equal(echoed, 'ping');
    assert.equal(lastUpstream().headers['x-auth-request-user'], 'machine');

    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('an anonymous upgrade must not open')));
      ws.once('error', () => {});
    });
    assert.equal(refused, 401);
    // Each line is waited for on its own: seeing one says nothing about the other. An upgrade's
    // line may be written only once the proxy reports the upgrade done, and audit batches can
    // reach the file out of order (a batch still in an async write while a later one is flushed).
    await gh.auditLine((l) => l.route === 'api' && l.status === 101 && l.sub === 'machine', {
      what: 'the audit line of the accepted upgrade (101, machine)',
    });
    await gh.auditLine((l) => l.route === 'api' && l.status === 401 && l.decision === 'login', {
      what: 'the audit line of the refused upgrade (401, login)',
    });
  });

  it('answers 404 for an unknown route and 400 for an encoded-separator trick, without internals', async () => {
    const nf = await get('/.gatehouse/nope');
    assert.equal(nf.status, 404);
    const trick = await get('/public/..%2fadmin');
    assert.equal(trick.status, 400);
    assert.doesNotMatch(trick.text, /at .*\.ts|Error:/);
  });

  it('exposes metrics with the documented names on the admin listener', async () => {
    const res = await request(`${gh.adminUrl}/metrics`);
    const text = await res.body.text();
    for (const name of [
      'gatehouse_requests_total',
      'gatehouse_auth_duration_seconds',
      'gatehouse_upstream_duration_seconds',
      'gatehouse_logins_total',
      'gatehouse_jwks_refresh_total',
      'gatehouse_cache_lookups',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^gatehouse_requests_total\{route="admin",decision="deny"\} [1-9]/m);
    assert.match(text, /^gatehouse_logins_total\{result="success",provider="default"\} [1-9]/m);
  });
});
