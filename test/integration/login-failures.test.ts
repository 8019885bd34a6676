import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { type LoginHarness, loginThroughIdp, startLoginHarness } from '../helpers/login-flow.ts';

async function get(url: string, jar: CookieJar) {
  const cookie = jar.header(url);
  const res = await request(url, { headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) } });
  jar.setFrom(url, res.headers['set-cookie']);
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: () => JSON.parse(text) as { error: string } };
}

const toCallback = (prefix: string) => (u: URL) => u.pathname === `${prefix}/callback`;

describe('login failures end on a clear error and never create a session', () => {
  let h: LoginHarness;
  let clock = Date.now();
  before(async () => {
    h = await startLoginHarness({ oidc: { login_timeout: '5s' }, now: () => clock });
  });
  after(() => h.close());

  it('a replayed callback (login cookie used up) is login_state_missing', async () => {
    const jar = new CookieJar();
    const half = await loginThroughIdp(`${h.url}${h.prefix}/start?rd=/x`, 'bob', jar, {
      stopBefore: toCallback(h.prefix),
    });
    const loginCookies = jar.entries(half.finalUrl).filter(([n]) => n.startsWith('gatehouse_login_'));
    assert.equal(loginCookies.length, 1);
    const first = await get(half.finalUrl, jar);
    assert.equal(first.status, 302);
    // Replay: the same callback URL with the same (captured) login cookie.
    const replayJar = new CookieJar();
    replayJar.set(h.url, loginCookies[0]![0], loginCookies[0]![1], h.prefix);
    const replay = await get(half.finalUrl, replayJar);
    // The cookie is still valid, but the code was already redeemed at the IdP.
    assert.equal(replay.status, 502);
    assert.equal(replay.json().error, 'token_exchange_failed');
    // Without the cookie (what a browser has after the first callback): login_state_missing.
    const again = await get(half.finalUrl, jar);
    assert.equal(again.status, 400);
    assert.equal(again.json().error, 'login_state_missing');
    assert.match(
      String(again.headers['set-cookie']),
      /gatehouse_login_[0-9a-f]{8}=; Path=\/\.gatehouse; Max-Age=0/,
    );
    assert.equal(replayJar.names().includes('gatehouse'), false);
  });

  it('an expired login cookie is login_state_missing', async () => {
    const jar = new CookieJar();
    const half = await loginThroughIdp(`${h.url}${h.prefix}/start`, 'bob', jar, {
      stopBefore: toCallback(h.prefix),
    });
    clock += 6000;
    try {
      const res = await get(half.finalUrl, jar);
      assert.equal(res.status, 400);
      assert.equal(res.json().error, 'login_state_missing');
      assert.equal(jar.names().includes('gatehouse'), false);
    } finally {
      clock -= 6000;
    }
  });

  it('a tampered login cookie is login_state_invalid, a foreign state is state_mismatch', async () => {
    const jar = new CookieJar();
    const half = await loginThroughIdp(`${h.url}${h.prefix}/start`, 'bob', jar, {
      stopBefore: toCallback(h.prefix),
    });
    const [name, value] = jar.entries(half.finalUrl).find(([n]) => n.startsWith('gatehouse_login_'))!;
    const tampered = new CookieJar();
    tampered.set(h.url, name, `${value.slice(0, -5)}AAAAA`, h.prefix);
    const bad = await get(half.finalUrl, tampered);
    assert.equal(bad.json().error, 'login_state_invalid');

    const other = new URL(half.finalUrl);
    const id = other.searchParams.get('state')!.split('.')[0];
    other.searchParams.set('state', `${id}.${'A'.repeat(32)}`);
    const mismatch = await get(other.href, jar);
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.json().error, 'state_mismatch');
    assert.equal(jar.names().includes('gatehouse'), false);
  });

  it('an IdP error response is idp_error', async () => {
    const jar = new CookieJar();
    const start = await get(`${h.url}${h.prefix}/start`, jar);
    const state = new URL(String(start.headers.location)).searchParams.get('state')!;
    const cb = `${h.url}${h.prefix}/callback?error=access_denied&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(h.idp.issuer)}`;
    const res = await get(cb, jar);
    assert.equal(res.status, 400);
    assert.equal(res.json().error, 'idp_error');
    assert.equal(
      jar.names().some((n) => n.startsWith('gatehouse_login_')),
      false,
      'login cookie cleared',
    );
  });

  it('a code from another login (PKCE-bound) is refused and creates no session', async () => {
    const jarA = new CookieJar();
    const a = await get(`${h.url}${h.prefix}/start`, jarA);
    const stateA = new URL(String(a.headers.location)).searchParams.get('state')!;
    const jarB = new CookieJar();
    const b = await loginThroughIdp(`${h.url}${h.prefix}/start`, 'alice', jarB, {
      stopBefore: toCallback(h.prefix),
    });
    const forged = new URL(b.finalUrl);
    forged.searchParams.set('state', stateA);
    const res = await get(forged.href, jarA);
    assert.equal(res.json().error, 'token_exchange_failed');
    assert.equal(jarA.names().includes('gatehouse'), false);
  });

  it('a callback without state is login_state_missing', async () => {
    const res = await get(`${h.url}${h.prefix}/callback?code=x`, new CookieJar());
    assert.equal(res.json().error, 'login_state_missing');
  });

  it('keeps at most five login cookies, expiring the oldest', async () => {
    const jar = new CookieJar();
    const states: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await get(`${h.url}${h.prefix}/start`, jar);
      states.push(new URL(String(res.headers.location)).searchParams.get('state')!.split('.')[0]!);
    }
    const names = jar.names().filter((n) => n.startsWith('gatehouse_login_'));
    assert.deepEqual(
      names.sort(),
      states
        .slice(2)
        .map((id) => `gatehouse_login_${id}`)
        .sort(),
    );
  });
});
