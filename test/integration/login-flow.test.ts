import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { type LoginHarness, loginThroughIdp, startLoginHarness } from '../helpers/login-flow.ts';

describe('login: the code flow against the dev IdP', () => {
  let h: LoginHarness;
  before(async () => {
    h = await startLoginHarness();
  });
  after(() => h.close());

  it('lands on rd with a session for the user', async () => {
    const jar = new CookieJar();
    const result = await loginThroughIdp(`${h.url}${h.prefix}/start?rd=/app/page%3Fx%3D1`, 'alice', jar);
    assert.equal(result.callbackLocation, `${h.url}/app/page?x=1`);
    assert.equal(result.finalUrl, `${h.url}/app/page?x=1`);
    assert.equal(result.status, 200);
    assert.equal(result.body, 'alice');
    // the login cookie was used up, only the session cookie remains for our paths
    assert.deepEqual(
      jar
        .entries(`${h.url}${h.prefix}/callback`)
        .map(([name]) => name)
        .filter((n) => n.startsWith('gatehouse')),
      ['gatehouse'],
    );
    const read = await h.codec.read(jar.header(h.url));
    assert.equal(read.session?.claims.sub, 'alice');
    assert.equal(read.session?.claims.email, 'alice@example.com');
    assert.deepEqual(read.session?.claims.groups, ['admins', 'eng']);
    assert.equal(read.session?.iss, h.idp.issuer);
    assert.ok(read.session?.accessToken && read.session.refreshToken && read.session.idToken);
    assert.ok(read.session.accessTokenExpiresAt! > Date.now() / 1000);
    assert.equal(h.outcomes.at(-1)?.outcome, 'ok');
    assert.equal(h.outcomes.at(-1)?.sub, 'alice');
  });

  it('defaults rd to / and sends PKCE S256, state and nonce to the IdP', async () => {
    const res = await request(`${h.url}${h.prefix}/start`);
    await res.body.dump();
    assert.equal(res.statusCode, 302);
    const location = new URL(String(res.headers.location));
    assert.equal(location.origin, h.idp.issuer);
    const q = location.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), 'gatehouse');
    assert.equal(q.get('redirect_uri'), `${h.url}${h.prefix}/callback`);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('state')!, /^[0-9a-f]{8}\.[A-Za-z0-9_-]{32}$/);
    assert.ok(q.get('nonce'));
    const setCookie = [res.headers['set-cookie']].flat().join('\n');
    const id = q.get('state')!.split('.')[0];
    assert.match(setCookie, new RegExp(`^gatehouse_login_${id}=Fe26\\.2\\*`, 'm'));
    assert.match(setCookie, /Path=\/\.gatehouse; Max-Age=600; HttpOnly; SameSite=Lax/);
    assert.doesNotMatch(setCookie, /Secure/);
  });

  it('refuses a hostile rd at start with redirect_rejected', async () => {
    const res = await request(`${h.url}${h.prefix}/start?rd=//evil.com/x`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(((await res.body.json()) as { error: string }).error, 'redirect_rejected');
    assert.equal(res.headers['set-cookie'], undefined);
  });

  it('lets two tabs log in at once', async () => {
    const jar = new CookieJar();
    const stop = (u: URL) => u.pathname === `${h.prefix}/callback`;
    // Both tabs reach the IdP and come back with a code before either callback runs.
    const tab1 = await loginThroughIdp(`${h.url}${h.prefix}/start?rd=/one`, 'alice', jar, {
      stopBefore: stop,
    });
    const tab2 = await loginThroughIdp(`${h.url}${h.prefix}/start?rd=/two`, 'alice', jar, {
      stopBefore: stop,
    });
    assert.equal(jar.names().filter((n) => n.startsWith('gatehouse_login_')).length, 2);
    const second = await loginThroughIdp(tab2.finalUrl, 'alice', jar);
    const first = await loginThroughIdp(tab1.finalUrl, 'alice', jar);
    assert.equal(second.finalUrl, `${h.url}/two`);
    assert.equal(first.finalUrl, `${h.url}/one`);
    assert.equal(first.body, 'alice');
    assert.equal(jar.names().filter((n) => n.startsWith('gatehouse_login_')).length, 0);
  });
});
