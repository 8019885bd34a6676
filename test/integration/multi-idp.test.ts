/**
 * Multi-IdP login through real parts: two real OpenID Providers (oidc-provider, one shaped like
 * Keycloak, one like Cognito), a real echo upstream, Gatehouse with `oidc` as a list of named
 * providers, and a real Chromium for the chooser. Covers the chooser page, logins at each
 * provider, role normalization from both claim shapes, the identity's provider in userinfo, the
 * assertion and the audit log, IdP mix-up defence at the callback, `providers` on routes and in
 * policy rules, refresh and sign-out at the session's own IdP, and bearer tokens of both issuers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { request } from 'undici';
import type { DevIdp } from '../../src/demo/dev-idp.ts';
import { chromiumSkip, launchChromium } from '../helpers/browser.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { metric } from '../helpers/faults.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import {
  CORP_CLIENT,
  CORP_LABEL,
  htmlLinks,
  http,
  idpCalls,
  jwtPayload,
  type MultiIdpWorld,
  PARTNERS_CLIENT,
  PREFIX,
  sessionCookies,
  setsSession,
  startMultiIdpWorld,
} from '../helpers/multi-idp.ts';
import type { RecordedRequest } from '../helpers/upstream.ts';
import { machineToken } from './bearer-helpers.ts';

type Provider = 'corp' | 'partners';

let w: MultiIdpWorld;
const idpOf = (p: Provider): DevIdp => (p === 'corp' ? w.corp : w.partners);

before(async () => {
  w = await startMultiIdpWorld();
});
after(async () => {
  await w?.close();
});

/** Log `user` in at `provider` over plain HTTP (every hop real); returns the browser's jar. */
async function loginAt(provider: Provider, user: string, rd = '/home', world = w): Promise<CookieJar> {
  const jar = new CookieJar();
  const start = `${world.gh.url}${PREFIX}/start?provider=${provider}&rd=${encodeURIComponent(rd)}`;
  const result = await loginThroughIdp(start, user, jar);
  assert.equal(result.status, 200, `login of ${user} at ${provider}: ${result.body.slice(0, 300)}`);
  assert.equal(result.finalUrl, `${world.gh.url}${rd}`, `login of ${user} lands on rd`);
  const callbacks = result.visited
    .map((u) => new URL(u))
    .filter((u) => u.pathname.startsWith(`${PREFIX}/callback`));
  assert.deepEqual(
    callbacks.map((u) => u.pathname),
    [`${PREFIX}/callback/${provider}`],
    'the IdP returned to the provider-named callback',
  );
  const other = provider === 'corp' ? world.partners : world.corp;
  assert.ok(
    !result.visited.some((u) => u.startsWith(other.issuer)),
    `the login at ${provider} never visited the other IdP`,
  );
  assert.ok(sessionCookies(jar).length > 0, 'a session cookie is set');
  return jar;
}

/** The upstream request Gatehouse forwarded with this request id. */
function upstreamSaw(requestId: string | string[] | undefined, world = w): RecordedRequest {
  const seen = world.upstream.requests.find((r) => r.headers['x-request-id'] === requestId);
  assert.ok(seen, `the upstream received request ${String(requestId)}`);
  return seen;
}

async function auditLine(
  requestId: string | string[] | undefined,
  world = w,
): Promise<Record<string, unknown>> {
  assert.equal(typeof requestId, 'string', 'the answer carries x-request-id');
  return world.gh.auditLine((l) => l.request_id === requestId, { what: `the audit line of ${requestId}` });
}

describe('provider chooser and login start', () => {
  it('answers /start without a provider with an HTML chooser linking to each provider', async () => {
    const rd = '/admin/reports?week=48&x=1';
    const res = await http(`${w.gh.url}${PREFIX}/start?rd=${encodeURIComponent(rd)}`, {
      accept: 'text/html',
    });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.text, /<html[^>]*\slang=/i);
    assert.doesNotMatch(res.text, /<script/i, 'no script on the chooser');
    // No external assets: every href/src stays on Gatehouse's origin, no remote CSS.
    for (const m of res.text.matchAll(/\b(?:href|src|action)\s*=\s*["']?([^"'\s>]+)/gi)) {
      const target = new URL(m[1]!.replaceAll('&amp;', '&'), w.gh.url);
      assert.equal(target.origin, w.gh.url, `asset or link ${m[1]} on another origin`);
    }
    assert.doesNotMatch(res.text, /url\(\s*["']?(?:https?:)?\/\//i, 'no remote url() in CSS');
    assert.doesNotMatch(res.text, /@import/i);

    const starts = htmlLinks(res.text)
      .map((l) => ({ ...l, url: new URL(l.href, w.gh.url) }))
      .filter((l) => l.url.pathname === `${PREFIX}/start`);
    assert.deepEqual(
      starts.map((l) => ({
        provider: l.url.searchParams.get('provider'),
        rd: l.url.searchParams.get('rd'),
        text: l.text,
      })),
      [
        { provider: 'corp', rd, text: CORP_LABEL },
        { provider: 'partners', rd, text: 'partners' },
      ],
    );
    assert.ok(
      starts.every((l) => l.href.startsWith(`${PREFIX}/start?provider=`)),
      `links are {prefix}/start?provider=NAME&rd=…: ${starts.map((l) => l.href).join(' ')}`,
    );

    // Each link starts the login at its own IdP, with its own client and callback.
    for (const link of starts) {
      const provider = link.url.searchParams.get('provider') as Provider;
      const idp = idpOf(provider);
      const jar = new CookieJar();
      const go = await http(link.url.href, { jar, accept: 'text/html' });
      assert.equal(go.status, 302, `${provider}: ${go.text.slice(0, 200)}`);
      const location = new URL(String(go.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, `${idp.issuer}/auth`, provider);
      assert.equal(location.searchParams.get('client_id'), idp.clientId);
      assert.equal(location.searchParams.get('redirect_uri'), `${w.gh.url}${PREFIX}/callback/${provider}`);
      assert.ok(location.searchParams.get('state'), 'a state');
      assert.ok(
        jar.names().some((n) => n.startsWith('gatehouse_login_')),
        `${provider}: a login cookie is set`,
      );
    }
  });

  it('refuses an unknown provider with 400 unknown_provider', async () => {
    for (const name of ['nope', 'corp2']) {
      const res = await http(`${w.gh.url}${PREFIX}/start?provider=${name}&rd=%2Fadmin`);
      assert.equal(res.status, 400, name);
      assert.equal(res.json().error, 'unknown_provider', name);
      assert.equal(res.headers.location, undefined, name);
    }
    const html = await http(`${w.gh.url}${PREFIX}/start?provider=nope`, { accept: 'text/html' });
    assert.equal(html.status, 400);
    assert.match(String(html.headers['content-type']), /^text\/html/);
  });

  it('sends a browser on a route open to any provider to the chooser, on a one-provider route straight to it', async () => {
    const any = await http(`${w.gh.url}/admin/users?x=1`, { accept: 'text/html' });
    assert.equal(any.status, 302);
    const toChooser = new URL(String(any.headers.location), w.gh.url);
    assert.equal(toChooser.pathname, `${PREFIX}/start`);
    assert.equal(toChooser.searchParams.get('provider'), null, 'no provider: the chooser');
    assert.equal(new URL(toChooser.searchParams.get('rd')!, w.gh.url).href, `${w.gh.url}/admin/users?x=1`);

    const one = await http(`${w.gh.url}/corp/page?y=2`, { accept: 'text/html' });
    assert.equal(one.status, 302);
    const direct = new URL(String(one.headers.location), w.gh.url);
    assert.equal(direct.pathname, `${PREFIX}/start`);
    assert.equal(direct.searchParams.get('provider'), 'corp');
    assert.equal(new URL(direct.searchParams.get('rd')!, w.gh.url).href, `${w.gh.url}/corp/page?y=2`);
    // Following it goes to the corp IdP without a chooser page.
    const go = await http(direct.href, { jar: new CookieJar(), accept: 'text/html' });
    assert.equal(go.status, 302);
    assert.ok(String(go.headers.location).startsWith(`${w.corp.issuer}/auth?`), String(go.headers.location));

    const api = await http(`${w.gh.url}/corp/page`, { accept: 'application/json' });
    assert.equal(api.status, 401);
  });
});

describe('logins at each provider', () => {
  it('normalizes Keycloak realm roles and Cognito groups to the same role, with idp in userinfo and the assertion', async () => {
    for (const [provider, user] of [
      ['corp', 'kc-alice'],
      ['partners', 'cg-carol'],
    ] as const) {
      const jar = await loginAt(provider, user, '/admin/dashboard');
      const res = await http(`${w.gh.url}/admin/dashboard`, { jar });
      assert.equal(res.status, 200, `${user} on /admin: ${res.text.slice(0, 200)}`);
      const seen = upstreamSaw(res.headers['x-request-id']);
      assert.equal(seen.headers['x-auth-request-user'], user);
      assert.equal(seen.headers['x-auth-request-roles'], 'admin', `${user}'s roles upstream`);
      const assertion = jwtPayload(seen.headers['x-gatehouse-assertion']);
      assert.equal(assertion.sub, user);
      assert.equal(assertion.idp, provider, `${user}'s assertion names the provider`);
      assert.deepEqual(assertion.roles, ['admin']);

      const me = await http(`${w.gh.url}${PREFIX}/userinfo`, { jar });
      assert.equal(me.status, 200);
      const info = me.json<{ sub: string; idp: string; roles: string[]; auth_type: string }>();
      assert.equal(info.sub, user);
      assert.equal(info.idp, provider);
      assert.deepEqual(info.roles, ['admin']);
      assert.equal(info.auth_type, 'session');
    }
  });

  it('reads Keycloak client roles of its own client only, and a Cognito user without groups is no admin', async () => {
    const erin = await loginAt('corp', 'kc-erin');
    const ok = await http(`${w.gh.url}/admin`, { jar: erin });
    assert.equal(ok.status, 200, 'resource_access.<client_id>.roles gh-admin → admin');
    assert.equal(upstreamSaw(ok.headers['x-request-id']).headers['x-auth-request-roles'], 'admin');

    for (const [provider, user] of [
      ['corp', 'kc-frank'], // gh-admin is a role of another client
      ['partners', 'cg-dave'],
    ] as const) {
      const jar = await loginAt(provider, user);
      const denied = await http(`${w.gh.url}/admin`, { jar });
      assert.equal(denied.status, 403, user);
      const me = (await http(`${w.gh.url}${PREFIX}/userinfo`, { jar })).json<{
        roles: string[];
        idp: string;
      }>();
      assert.deepEqual(me.roles, [], `${user} has no roles`);
      assert.equal(me.idp, provider);
    }
  });
});

describe('login metrics', () => {
  it("count callbacks per provider, and a callback at no provider's URL as unknown (no label from the path)", async () => {
    const count = (labels: Record<string, string>) => metric(w.gh.adminUrl, 'gatehouse_logins_total', labels);
    const before = {
      corp: await count({ result: 'success', provider: 'corp' }),
      partners: await count({ result: 'success', provider: 'partners' }),
      unknown: await count({ result: 'failure', provider: 'unknown' }),
    };
    await loginAt('corp', 'kc-alice');
    await loginAt('partners', 'cg-carol');
    const bogus = await http(`${w.gh.url}${PREFIX}/callback/not-a-provider-${Date.now()}?state=x&code=y`);
    assert.equal(bogus.status, 400);
    assert.equal(await count({ result: 'success', provider: 'corp' }), before.corp + 1);
    assert.equal(await count({ result: 'success', provider: 'partners' }), before.partners + 1);
    assert.equal(await count({ result: 'failure', provider: 'unknown' }), before.unknown + 1);
    const text = await (await request(`${w.gh.adminUrl}/metrics`)).body.text();
    assert.doesNotMatch(text, /not-a-provider/, 'the path never becomes a label value');
  });
});

describe('IdP mix-up at the callback', () => {
  const callback = (provider: Provider, params: Record<string, string>) =>
    `${w.gh.url}${PREFIX}/callback/${provider}?${new URLSearchParams(params)}`;

  /** A login started at corp, stopped at its IdP: its state and the jar with its login cookie. */
  async function corpAttempt(): Promise<{ state: string; jar: CookieJar }> {
    const jar = new CookieJar();
    const res = await http(`${w.gh.url}${PREFIX}/start?provider=corp&rd=%2Fadmin`, { jar });
    assert.equal(res.status, 302);
    const location = new URL(String(res.headers.location));
    assert.ok(location.href.startsWith(`${w.corp.issuer}/auth`), location.href);
    return { state: location.searchParams.get('state')!, jar };
  }

  async function assertNoSession(jar: CookieJar, setCookie: string | string[] | undefined, what: string) {
    assert.equal(setsSession(setCookie), false, `${what}: no session cookie set`);
    assert.deepEqual(sessionCookies(jar), [], `${what}: no session cookie in the jar`);
    const api = await http(`${w.gh.url}/admin`, { jar });
    assert.equal(api.status, 401, `${what}: /admin afterwards is still 401`);
    const nav = await http(`${w.gh.url}/admin`, { jar, accept: 'text/html' });
    assert.equal(nav.status, 302, `${what}: /admin afterwards still redirects to login`);
  }

  it('refuses partners’ code and iss with corp’s state at either callback, and creates no session', async () => {
    const partnersJar = new CookieJar();
    const half = await loginThroughIdp(
      `${w.gh.url}${PREFIX}/start?provider=partners&rd=%2Fpartner%2Fhome`,
      'cg-carol',
      partnersJar,
      { stopBefore: (u) => u.origin === w.gh.url && u.pathname.startsWith(`${PREFIX}/callback`) },
    );
    const good = new URL(half.finalUrl);
    assert.equal(good.pathname, `${PREFIX}/callback/partners`);
    assert.equal(good.searchParams.get('iss'), w.partners.issuer, 'oidc-provider sends iss (RFC 9207)');
    const code = good.searchParams.get('code')!;
    assert.ok(code);

    // 1. corp's callback, with partners' iss: the iss is not corp's.
    const a = await corpAttempt();
    const corpTokenBefore = w.corp.hits.get('/token') ?? 0;
    const partnersTokenBefore = w.partners.hits.get('/token') ?? 0;
    const atCorp = await http(callback('corp', { code, state: a.state, iss: w.partners.issuer }), {
      jar: a.jar,
    });
    assert.equal(atCorp.status, 400, atCorp.text.slice(0, 200));
    assert.equal(atCorp.json().error, 'idp_error');
    assert.equal(w.corp.hits.get('/token') ?? 0, corpTokenBefore, 'refused before any code exchange');
    await assertNoSession(a.jar, atCorp.headers['set-cookie'], 'iss mismatch');

    // 2. partners' callback with corp's state: the login cookie was made for corp.
    const b = await corpAttempt();
    const atPartners = await http(callback('partners', { code, state: b.state, iss: w.partners.issuer }), {
      jar: b.jar,
    });
    assert.equal(atPartners.status, 400, atPartners.text.slice(0, 200));
    assert.equal(atPartners.json().error, 'idp_mismatch');
    assert.equal(w.partners.hits.get('/token') ?? 0, partnersTokenBefore, 'no exchange at partners');
    await assertNoSession(b.jar, atPartners.headers['set-cookie'], 'provider mismatch');

    // 3. corp's callback, partners' code with a forged corp iss: corp does not know the code.
    const c = await corpAttempt();
    const forged = await http(callback('corp', { code, state: c.state, iss: w.corp.issuer }), { jar: c.jar });
    assert.equal(forged.json().error, 'token_exchange_failed', forged.text.slice(0, 200));
    assert.ok(forged.status >= 400, `refused, got ${forged.status}`);
    assert.equal(w.partners.hits.get('/token') ?? 0, partnersTokenBefore, 'partners never saw corp’s login');
    await assertNoSession(c.jar, forged.headers['set-cookie'], 'foreign code');

    // The genuine callback still works: the refusals above were about the mix-up, nothing else.
    const real = await http(half.finalUrl, { jar: partnersJar, accept: 'text/html' });
    assert.equal(real.status, 302, real.text.slice(0, 200));
    assert.ok(sessionCookies(partnersJar).length > 0);
    const me = (await http(`${w.gh.url}${PREFIX}/userinfo`, { jar: partnersJar })).json<{
      sub: string;
      idp: string;
    }>();
    assert.deepEqual([me.sub, me.idp], ['cg-carol', 'partners']);
  });
});

describe('providers on routes and in policy rules', () => {
  it('treats a partners session as no session on a corp-only route, without ending it', async () => {
    const carol = await loginAt('partners', 'cg-carol');
    // A navigating browser is told, and offered the switch, instead of being sent away silently.
    const nav = await http(`${w.gh.url}/corp/wiki?p=1`, { jar: carol, accept: 'text/html' });
    assert.equal(nav.status, 401);
    assert.match(nav.text, /This page needs another sign-in/);
    assert.match(nav.text, /Signed in as <strong>Carol Cognito<\/strong>.* via <strong>partners<\/strong>/);
    const link = htmlLinks(nav.text).find((l) => l.text === `Sign in with ${CORP_LABEL}`);
    assert.ok(link, 'a sign-in with corp is offered');
    const location = new URL(link.href, w.gh.url);
    assert.equal(location.pathname, `${PREFIX}/start`);
    assert.equal(location.searchParams.get('provider'), 'corp');
    assert.equal(new URL(location.searchParams.get('rd')!, w.gh.url).href, `${w.gh.url}/corp/wiki?p=1`);
    assert.equal(setsSession(nav.headers['set-cookie']), false, 'the session is not touched');

    const api = await http(`${w.gh.url}/corp/wiki`, { jar: carol });
    assert.equal(api.status, 401, 'an API call gets 401, not 403');
    assert.match(String(api.headers['www-authenticate']), /^Bearer realm="gatehouse"/);

    // The session itself is still good where partners are accepted.
    const still = await http(`${w.gh.url}/partner/home`, { jar: carol });
    assert.equal(still.status, 200);
    assert.equal(upstreamSaw(still.headers['x-request-id']).headers['x-auth-request-user'], 'cg-carol');
  });

  it('lets a corp session into the corp-only route', async () => {
    const alice = await loginAt('corp', 'kc-alice');
    const res = await http(`${w.gh.url}/corp/wiki`, { jar: alice });
    assert.equal(res.status, 200);
    assert.equal(
      jwtPayload(upstreamSaw(res.headers['x-request-id']).headers['x-gatehouse-assertion']).idp,
      'corp',
    );
  });

  it('a policy rule on providers admits partners sessions and denies corp sessions with 403', async () => {
    for (const user of ['cg-carol', 'cg-dave']) {
      const jar = await loginAt('partners', user);
      const res = await http(`${w.gh.url}/partner/home`, { jar });
      assert.equal(res.status, 200, user);
    }
    const alice = await loginAt('corp', 'kc-alice');
    const denied = await http(`${w.gh.url}/partner/home`, { jar: alice });
    assert.equal(denied.status, 403);
    const nav = await http(`${w.gh.url}/partner/home`, { jar: alice, accept: 'text/html' });
    assert.equal(nav.status, 403, 'a denied browser is not sent to a login');
  });
});

describe('bearer tokens from both issuers', () => {
  it('maps realm_access and cognito:groups of machine tokens to the same role', async () => {
    for (const provider of ['corp', 'partners'] as const) {
      const token = await machineToken(idpOf(provider));
      const res = await http(`${w.gh.url}/admin/jobs`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, `${provider} token on /admin: ${res.text.slice(0, 200)}`);
      const seen = upstreamSaw(res.headers['x-request-id']);
      assert.equal(seen.headers['x-auth-request-user'], 'machine');
      assert.equal(seen.headers['x-auth-request-roles'], 'admin', `${provider} token roles`);
      const assertion = jwtPayload(seen.headers['x-gatehouse-assertion']);
      assert.equal(assertion.idp, provider, 'a bearer issuer equal to a provider’s issuer uses its name');
      assert.equal(assertion.auth_type, 'bearer');
    }
  });

  it('applies providers to bearer tokens on routes and in policy rules', async () => {
    const corpToken = await machineToken(w.corp);
    const partnersToken = await machineToken(w.partners);
    const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

    assert.equal((await http(`${w.gh.url}/partner/api`, bearer(partnersToken))).status, 200);
    const denied = await http(`${w.gh.url}/partner/api`, bearer(corpToken));
    assert.equal(denied.status, 403);

    assert.equal((await http(`${w.gh.url}/corp/api`, bearer(corpToken))).status, 200);
    const refused = await http(`${w.gh.url}/corp/api`, bearer(partnersToken));
    assert.equal(refused.status, 401);
    assert.equal(refused.json().error, 'provider_not_allowed');
    const line = await auditLine(refused.headers['x-request-id']);
    assert.equal(line.reason, 'provider_not_allowed');
    assert.equal(line.status, 401);
  });
});

describe('audit lines', () => {
  it('carry idp for sessions and bearer tokens of either provider, allowed or denied', async () => {
    const alice = await loginAt('corp', 'kc-alice');
    const carol = await loginAt('partners', 'cg-carol');
    const partnersToken = await machineToken(w.partners);
    const corpToken = await machineToken(w.corp);
    const cases = [
      { url: '/admin/a', opts: { jar: alice }, status: 200, idp: 'corp', sub: 'kc-alice', auth: 'session' },
      { url: '/partner/a', opts: { jar: alice }, status: 403, idp: 'corp', sub: 'kc-alice', auth: 'session' },
      {
        url: '/admin/b',
        opts: { jar: carol },
        status: 200,
        idp: 'partners',
        sub: 'cg-carol',
        auth: 'session',
      },
      {
        url: '/admin/c',
        opts: { headers: { authorization: `Bearer ${partnersToken}` } },
        status: 200,
        idp: 'partners',
        sub: 'machine',
        auth: 'bearer',
      },
      {
        url: '/partner/c',
        opts: { headers: { authorization: `Bearer ${corpToken}` } },
        status: 403,
        idp: 'corp',
        sub: 'machine',
        auth: 'bearer',
      },
    ];
    for (const c of cases) {
      const res = await http(`${w.gh.url}${c.url}`, c.opts);
      assert.equal(res.status, c.status, c.url);
      const line = await auditLine(res.headers['x-request-id']);
      assert.deepEqual(
        { idp: line.idp, sub: line.sub, auth_type: line.auth_type, status: line.status },
        { idp: c.idp, sub: c.sub, auth_type: c.auth, status: c.status },
        `${c.url} as ${c.sub} (${c.idp})`,
      );
    }
  });
});

describe('refresh and sign-out at the session’s own IdP', () => {
  // Access tokens of 30 s: within the default refresh_before (60 s), so every request refreshes.
  let r: MultiIdpWorld;
  before(async () => {
    r = await startMultiIdpWorld({ accessTokenTtl: 30 });
  });
  after(async () => {
    await r?.close();
  });

  const cases = [
    { provider: 'corp', user: 'kc-alice', client: CORP_CLIENT },
    { provider: 'partners', user: 'cg-carol', client: PARTNERS_CLIENT },
  ] as const;

  for (const c of cases) {
    it(`refreshes a ${c.provider} session at ${c.provider}'s token endpoint only`, async () => {
      const own = c.provider === 'corp' ? r.corp : r.partners;
      const other = c.provider === 'corp' ? r.partners : r.corp;
      const jar = await loginAt(c.provider, c.user, '/home', r);
      const before = { own: own.hits.get('/token') ?? 0, other: other.hits.get('/token') ?? 0 };
      const cookieBefore = jar.get('gatehouse');
      const res = await http(`${r.gh.url}/admin/x`, { jar });
      assert.equal(res.status, 200, res.text.slice(0, 200));
      assert.ok(
        (own.hits.get('/token') ?? 0) > before.own,
        `${c.provider}'s token endpoint refreshed the session`,
      );
      assert.equal(other.hits.get('/token') ?? 0, before.other, 'the other IdP was not asked');
      assert.notEqual(jar.get('gatehouse'), cookieBefore, 'the refreshed session is resealed');
      const seen = upstreamSaw(res.headers['x-request-id'], r);
      assert.equal(seen.headers['x-auth-request-user'], c.user);
      assert.equal(jwtPayload(seen.headers['x-gatehouse-assertion']).idp, c.provider);
      // Once more: the rotated refresh token works at the same IdP.
      const again = await http(`${r.gh.url}/admin/y`, { jar });
      assert.equal(again.status, 200);
      assert.equal(other.hits.get('/token') ?? 0, before.other);
    });

    it(`signs a ${c.provider} session out at ${c.provider}'s end_session endpoint`, async () => {
      const own = c.provider === 'corp' ? r.corp : r.partners;
      const other = c.provider === 'corp' ? r.partners : r.corp;
      const jar = await loginAt(c.provider, c.user, '/home', r);
      const cookie = jar.header(r.gh.url)!;
      const otherBefore = idpCalls(other);
      const out = await http(`${r.gh.url}${PREFIX}/sign_out`, {
        jar,
        accept: 'text/html',
        headers: { 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(out.status, 302, out.text.slice(0, 200));
      const location = new URL(String(out.headers.location));
      assert.ok(location.href.startsWith(own.issuer), `to ${c.provider}'s IdP, got ${location.href}`);
      assert.equal(`${location.origin}${location.pathname}`, `${own.issuer}/session/end`);
      assert.equal(location.searchParams.get('client_id'), c.client);
      assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${r.gh.url}${PREFIX}/signed_out`);
      assert.ok(location.searchParams.get('id_token_hint'), 'id_token_hint');
      assert.equal(jwtPayload(location.searchParams.get('id_token_hint')!).iss, own.issuer);
      assert.deepEqual(idpCalls(other), otherBefore, 'the other IdP was not contacted');
      assert.deepEqual(sessionCookies(jar), [], 'session cookies cleared');
      // The IdP accepts the request (its logout confirmation, not an error page).
      const idpPage = await http(location.href, { accept: 'text/html' });
      assert.equal(idpPage.status, 200, idpPage.text.slice(0, 300));
      // The old cookie is no session any more.
      const replay = await http(`${r.gh.url}/admin`, { headers: { cookie } });
      assert.equal(replay.status, 401);
    });
  }
});

describe('browser login through the chooser', {
  skip: chromiumSkip(),
}, () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  for (const c of [
    { provider: 'corp', label: CORP_LABEL, user: 'kc-alice' },
    { provider: 'partners', label: 'partners', user: 'cg-carol' },
  ] as const) {
    it(`chooses ${c.label}, logs ${c.user} in and lands on /admin`, async () => {
      const idp = idpOf(c.provider);
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        page.setDefaultTimeout(15_000);
        const target = `${w.gh.url}/admin/dashboard?tab=${c.provider}`;
        const first = await page.goto(target);
        assert.equal(first?.status(), 200);
        assert.ok(page.url().startsWith(`${w.gh.url}${PREFIX}/start?`), `at the chooser, at ${page.url()}`);
        assert.equal(await page.locator('a[href*="provider="]').count(), 2, 'one link per provider');
        await Promise.all([
          page.waitForURL((u) => u.href.startsWith(idp.issuer)),
          page.getByRole('link', { name: c.label, exact: true }).click(),
        ]);
        // At this provider's login form.
        await page.fill('input[name="login"]', c.user);
        await page.fill('input[name="password"]', 'any password');
        await Promise.all([page.waitForURL(target), page.click('button[type="submit"]')]);
        const body = (await page.textContent('body')) ?? '';
        assert.match(
          body,
          new RegExp(`"x-auth-request-user":\\s*"${c.user}"`),
          'the upstream page, as the user',
        );
        const seen = w.upstream.requests.findLast((r) => r.url === `/admin/dashboard?tab=${c.provider}`);
        assert.ok(seen, 'the upstream served the page');
        assert.equal(seen.headers['x-auth-request-user'], c.user);
        assert.equal(seen.headers['x-auth-request-roles'], 'admin');
        assert.equal(jwtPayload(seen.headers['x-gatehouse-assertion']).idp, c.provider);
        const cookies = await context.cookies(w.gh.url);
        const session = cookies.find((k) => k.name === 'gatehouse' || k.name.startsWith('gatehouse.'));
        assert.ok(session, 'a session cookie is set');
        assert.equal(session.httpOnly, true);
      } finally {
        await context.close();
      }
    });
  }
});
