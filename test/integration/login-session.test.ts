import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { silentLog } from '../../src/observe/logger.ts';
import { createRefresher, needsRefresh } from '../../src/oidc/refresh.ts';
import { createSessionCodec } from '../../src/session/cookie-codec.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { type LoginHarness, loginThroughIdp, startLoginHarness } from '../helpers/login-flow.ts';

const GROUPS = Array.from(
  { length: 150 },
  (_, i) => `okta-app-platform-engineering-team-${String(i).padStart(3, '0')}-read-write-access`,
);

describe('sessions after a real login', () => {
  let h: LoginHarness;
  before(async () => {
    h = await startLoginHarness({
      idp: {
        accessTokenTtl: 30,
        users: { carol: { email: 'carol@example.com', name: 'Carol', groups: GROUPS } },
      },
    });
  });
  after(() => h.close());

  async function login(user: string, jar = new CookieJar()) {
    const result = await loginThroughIdp(`${h.url}${h.prefix}/start?rd=/home`, user, jar);
    assert.equal(result.status, 200, result.body);
    return jar;
  }

  it('chunks a 150-group session, reads it back, and clears stale chunks on a smaller write', async () => {
    const jar = await login('carol');
    const chunks = jar.names().filter((n) => n.startsWith('gatehouse.'));
    assert.ok(chunks.length >= 2, `expected several chunks, got ${jar.names().join(',')}`);
    assert.ok(chunks.length <= 8);
    const read = await h.codec.read(jar.header(h.url));
    assert.deepEqual(read.session?.claims.groups, GROUPS);
    assert.ok(read.session?.idToken, 'the id token is kept');
    // The same browser logs in as bob (a new IdP session): a one-cookie session replaces the chunks.
    jar.delete('_session');
    jar.delete('_session.legacy');
    await login('bob', jar);
    assert.deepEqual(
      jar.names().filter((n) => n.startsWith('gatehouse')),
      ['gatehouse'],
    );
    assert.equal((await h.codec.read(jar.header(h.url))).session?.claims.sub, 'bob');
  });

  it('a dropped chunk or a tampered cookie is no session', async () => {
    const jar = await login('carol');
    const header = jar.header(h.url)!;
    const withoutOne = header
      .split('; ')
      .filter((p) => !p.startsWith('gatehouse.1='))
      .join('; ');
    assert.equal((await h.codec.read(withoutOne)).reason, 'session_invalid');
    const bobJar = await login('bob');
    const value = bobJar.get('gatehouse')!;
    const flipped = `${value.slice(0, 60)}${value[60] === 'A' ? 'B' : 'A'}${value.slice(61)}`;
    const res = await request(`${h.url}/home`, { headers: { cookie: `gatehouse=${flipped}` } });
    assert.equal(res.statusCode, 401);
    assert.equal(await res.body.text(), 'session_invalid');
  });

  it('refreshes with the refresh token; the rotated old token no longer works', async () => {
    const jar = await login('bob');
    const session = (await h.codec.read(jar.header(h.url))).session!;
    assert.equal(needsRefresh(session, 60_000), true, 'a 30 s access token is within refresh_before');
    assert.equal(needsRefresh(session, 1_000), false);
    const refresher = createRefresher({
      config: h.config,
      clientFor: () => h.client,
      claimNames: h.claimNames,
      dispatcher: h.dispatcher,
      log: silentLog,
    });
    const [a, b] = await Promise.all([refresher.refresh(session), refresher.refresh(session)]);
    assert.equal(a, b, 'concurrent callers share one refresh');
    assert.notEqual(a.accessToken, session.accessToken);
    assert.notEqual(a.refreshToken, session.refreshToken);
    assert.equal(a.id, session.id);
    assert.equal(a.claims.sub, 'bob');
    // A request still carrying the old cookie gets the same result, not a second exchange.
    assert.equal(await refresher.refresh(session), a);
    // A fresh refresher (another process) exchanging the used token is refused.
    const other = createRefresher({
      config: h.config,
      clientFor: () => h.client,
      claimNames: h.claimNames,
      dispatcher: h.dispatcher,
      log: silentLog,
    });
    await assert.rejects(other.refresh(session), { name: 'GatehouseError', code: 'refresh_failed' });
  });

  it('sign_out clears the cookies and goes to the IdP end_session endpoint with id_token_hint', async () => {
    const jar = await login('carol');
    const session = (await h.codec.read(jar.header(h.url))).session!;
    const url = `${h.url}${h.prefix}/sign_out?rd=/bye`;
    const res = await request(url, {
      headers: { cookie: jar.header(url)!, 'sec-fetch-site': 'same-origin' },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 302);
    jar.setFrom(url, res.headers['set-cookie']);
    assert.deepEqual(
      jar.names().filter((n) => n.startsWith('gatehouse')),
      [],
    );
    const location = new URL(String(res.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, `${h.idp.issuer}/session/end`);
    assert.equal(location.searchParams.get('id_token_hint'), session.idToken);
    assert.equal(location.searchParams.get('client_id'), 'gatehouse');
    assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${h.url}/bye`);
    // The IdP accepts it (renders its logout confirmation rather than an error).
    const idp = await request(location, { headers: { accept: 'text/html' } });
    const page = await idp.body.text();
    assert.equal(idp.statusCode, 200, page);
  });

  it('refuses a cross-site sign_out GET and keeps the session', async () => {
    const jar = await login('bob');
    const url = `${h.url}${h.prefix}/sign_out`;
    for (const headers of [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
      { referer: 'https://evil.example/page' },
    ]) {
      const res = await request(url, {
        headers: { cookie: jar.header(url)!, accept: 'application/json', ...headers },
      });
      assert.equal(res.statusCode, 403, JSON.stringify(headers));
      assert.equal(((await res.body.json()) as { error: string }).error, 'cross_site_request');
      assert.equal(res.headers['set-cookie'], undefined);
    }
    const post = await request(url, {
      method: 'POST',
      headers: { cookie: jar.header(url)!, 'sec-fetch-site': 'same-origin' },
    });
    await post.body.dump();
    assert.equal(post.statusCode, 302);
    assert.match(String(post.headers['set-cookie']), /^gatehouse=; Path=\/; Max-Age=0/);
  });

  it('accepts a cookie sealed with a rotated-out secret and reseals it with the new one', async () => {
    const jar = await login('bob');
    const rotated = createSessionCodec({
      session: {
        ...h.config.session!,
        secrets: ['a-brand-new-secret-0123456789abcdefghij', ...h.config.session!.secrets],
      },
      secure: false,
      cacheSize: 10,
      log: silentLog,
    });
    const read = await rotated.read(jar.header(h.url));
    assert.equal(read.session?.claims.sub, 'bob');
    assert.equal(read.reseal, true);
    const written = await rotated.write(read.session!, read.present);
    const fresh = new CookieJar();
    fresh.setFrom(h.url, written);
    const again = await rotated.read(fresh.header(h.url));
    assert.equal(again.session?.claims.sub, 'bob');
    assert.equal(again.reseal, false);
    // The old-only codec cannot read what the new secret sealed.
    assert.equal((await h.codec.read(fresh.header(h.url))).reason, 'session_invalid');
  });
});
