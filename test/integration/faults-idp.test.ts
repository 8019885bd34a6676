/**
 * issue 10 faults: the IdP is down at startup, then comes up on the same port; the IdP goes
 * down after logins. Each: no crash, no unhandled rejection, the right status, a log line with a
 * reason, and a metric.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { get, metric, watchUnhandled } from '../helpers/faults.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { waitFor } from '../helpers/wait.ts';
import { machineToken } from './bearer-helpers.ts';

const unhandled = watchUnhandled();
let upstream: EchoUpstream;
let gh: TestGatehouse;
let idp: DevIdp | undefined;
let idpPort: number;
let port: number;

const CLIENT_SECRET = 'faults-client-secret-0123456789abcdef';

/** The IdP's address is fixed before it runs: it starts (and stops) during the tests. */
const config = () =>
  testConfig({
    idp: { issuer: `http://127.0.0.1:${idpPort}`, clientId: 'gatehouse', clientSecret: CLIENT_SECRET },
    oidc: { timeout: '1s' },
    bearer: [
      {
        issuer: `http://127.0.0.1:${idpPort}`,
        audiences: ['api://demo'],
        algorithms: ['ES256', 'RS256'],
        jwks: { min_ttl: '1s', cooldown: '1s', timeout: '500ms' },
      },
    ],
    routes: [route('app', '/', upstream.url, { auth: ['session', 'bearer'] })],
  });

const startIdp = () =>
  startDevIdp({
    port: idpPort,
    clientSecret: CLIENT_SECRET,
    redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`],
    keys: idpKeys,
  });
let idpKeys: Awaited<ReturnType<typeof import('../../src/demo/dev-idp.ts').generateIdpKeys>>;

before(async () => {
  upstream = await startEchoUpstream();
  idpPort = await freePort();
  port = await freePort();
  idpKeys = await (await import('../../src/demo/dev-idp.ts')).generateIdpKeys();
});

after(async () => {
  await gh?.close();
  await idp?.close();
  await upstream.close();
  assert.deepEqual(unhandled.stop(), [], 'no unhandled rejection');
});

describe('IdP faults through the real server', () => {
  it('IdP down at startup: not ready, /start 503 idp_unavailable, discovery retried', async () => {
    gh = await startTestGatehouse(config(), { port });
    const ready = await get(`${gh.adminUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(ready.body, /not ready/);

    const start = await get(`${gh.url}/.gatehouse/start?rd=/x`, { accept: 'text/html' });
    assert.equal(start.status, 503);
    assert.match(String(start.headers['content-type']), /text\/html/);
    assert.match(start.body, /identity provider is unreachable/i);
    const json = await get(`${gh.url}/.gatehouse/start`, { accept: 'application/json' });
    assert.equal(json.status, 503);
    assert.equal(JSON.parse(json.body).error, 'idp_unavailable');
    // a protected route while the IdP is down: a browser is still sent to log in, an API gets 401
    assert.equal((await get(`${gh.url}/app`, { accept: 'application/json' })).status, 401);

    await waitFor(() => gh.logs().filter((l) => l.msg === 'oidc discovery failed').length >= 2, {
      timeoutMs: 5000,
      what: 'discovery retries',
    });
    const failed = gh.logs().find((l) => l.msg === 'oidc discovery failed')!;
    assert.ok(failed.reason, 'the log line carries a reason');
    assert.ok(typeof failed.retry_in_ms === 'number');
    assert.ok(gh.logs().some((l) => l.msg === 'JWKS refresh failed' && l.reason));
    assert.ok((await metric(gh.adminUrl, 'gatehouse_requests_total', { decision: 'error' })) >= 2);
    assert.ok((await metric(gh.adminUrl, 'gatehouse_jwks_refresh_total', { result: 'error' })) >= 1);
  });

  it('issue-10 an endpoint that answers before its first await is audited with its real outcome', async () => {
    // the refused /start calls above answered synchronously; 'close' used to win the race
    const startLines = () => gh.audit().filter((a) => a.path === '/.gatehouse/start');
    await waitFor(() => startLines().length >= 2, {
      timeoutMs: 3000,
      what: 'the audit lines of both /start calls',
    });
    const starts = startLines();
    for (const a of starts)
      assert.deepEqual([a.decision, a.reason, a.status], ['error', 'idp_unavailable', 503]);
    assert.equal(
      await metric(gh.adminUrl, 'gatehouse_requests_total', { route: '(none)', decision: 'allow' }),
      0,
    );
  });

  it('the IdP coming up on the same port: discovery completes, ready, logins work', async () => {
    idp = await startIdp();
    await gh.ready(20_000);
    assert.ok(gh.logs().some((l) => l.msg === 'oidc discovery complete'));
    const after = await get(`${gh.url}/.gatehouse/start?rd=/x`);
    assert.equal(after.status, 302);
    assert.ok(String(after.headers.location).startsWith(`http://127.0.0.1:${idpPort}/`));
    // and a full login works now
    const jar = new CookieJar();
    const flow = await loginThroughIdp(`${gh.url}/.gatehouse/start?rd=/hello`, 'alice', jar);
    assert.equal(flow.status, 200);
    assert.ok((await metric(gh.adminUrl, 'gatehouse_logins_total', { result: 'success' })) >= 1);
  });

  it('IdP down later: sessions and known-key tokens keep working; a callback gets 503 idp_unavailable and no session', async () => {
    assert.ok(idp, 'runs after the startup test');
    const jar = new CookieJar();
    const flow = await loginThroughIdp(`${gh.url}/.gatehouse/start?rd=/s`, 'bob', jar);
    assert.equal(flow.status, 200);
    const token = await machineToken(idp);
    const token2 = await machineToken(idp);
    assert.equal((await get(`${gh.url}/api`, { authorization: `Bearer ${token}` })).status, 200);
    // a login half-way: the browser is at the IdP when it goes away
    const jar2 = new CookieJar();
    const half = await loginThroughIdp(`${gh.url}/.gatehouse/start?rd=/h`, 'alice', jar2, {
      stopBefore: (u) => u.pathname === '/.gatehouse/callback',
    });
    const callbackUrl = half.finalUrl;
    assert.match(callbackUrl, /\/\.gatehouse\/callback\?/);

    const failuresBefore = await metric(gh.adminUrl, 'gatehouse_logins_total', { result: 'failure' });
    await idp.close();
    idp = undefined;

    const cookie = jar.header(new URL(`${gh.url}/s`));
    assert.ok(cookie);
    assert.equal((await get(`${gh.url}/s`, { cookie })).status, 200, 'the session keeps working');
    assert.equal(
      (await get(`${gh.url}/api`, { authorization: `Bearer ${token}` })).status,
      200,
      'cached token',
    );
    assert.equal(
      (await get(`${gh.url}/api`, { authorization: `Bearer ${token2}` })).status,
      200,
      'a new token signed by a known key verifies without the IdP',
    );
    // JWKS refreshes fail in the background (min_ttl 1s) and the last good keys stay
    await waitFor(() => gh.logs().some((l) => l.msg === 'JWKS refresh failed' && l.kept_last_good === true), {
      timeoutMs: 5000,
      what: 'a failed background JWKS refresh',
    });
    assert.equal((await get(`${gh.url}/api`, { authorization: `Bearer ${token2}` })).status, 200);

    const cb = await get(callbackUrl, {
      cookie: jar2.header(new URL(callbackUrl)) ?? '',
      accept: 'text/html',
    });
    assert.equal(cb.status, 503);
    assert.match(cb.body, /identity provider is unreachable/i);
    const setCookie = [cb.headers['set-cookie'] ?? []].flat();
    assert.ok(
      setCookie.every((c) => !/^gatehouse(\.\d+)?=Fe26/.test(c)),
      `no session cookie: ${setCookie.join(' | ')}`,
    );
    const line = gh.logs().find((l) => l.msg === 'login callback failed' && l.reason === 'idp_unavailable');
    assert.ok(line, 'a log line with the reason');
    assert.equal(
      await metric(gh.adminUrl, 'gatehouse_logins_total', { result: 'failure' }),
      failuresBefore + 1,
    );
    // readiness stays up: discovery and keys are loaded, and Gatehouse still serves
    assert.equal((await get(`${gh.adminUrl}/readyz`)).status, 200);
  });
});
