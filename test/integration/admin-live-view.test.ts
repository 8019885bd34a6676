/**
 * The admin live view as an operator uses it: Chromium opens `/` on the admin listener of a real
 * Gatehouse (dev IdP login and bearer tokens), bob is denied, and his denial shows up in the page
 * with its reason and rule; the filter finds it, the page fetches nothing but its own origin, and
 * no token, cookie or secret is in the page or its JSON. The public listener serves none of it.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { startDemoUpstream } from '../../src/demo/demo-upstream.ts';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import type { LiveView } from '../../src/server/live-view.ts';
import { chromiumSkip, launchChromium } from '../helpers/browser.ts';
import { idpBearer, route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { waitFor } from '../helpers/wait.ts';
import { collectLiteralSecrets, scanText } from '../secrets-scan/scanner.ts';
import { machineToken } from './bearer-helpers.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
/** The page polls every second; this bounds the wait for one poll plus a render on a busy machine. */
const SHOWN_WITHIN = { timeout: 5_000 };

async function liveJson(adminUrl: string): Promise<LiveView> {
  const res = await request(`${adminUrl}/live.json`);
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as LiveView;
}

describe('admin live view', { skip: chromiumSkip(), timeout: 120_000 }, () => {
  let idp: DevIdp;
  let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
  let gh: TestGatehouse;
  let browser: Browser;
  /** the credentials used in this suite: none may reach the page */
  const credentials: string[] = [];
  let bobCookie = '';
  let token = '';

  before(async () => {
    const port = await freePort();
    upstream = await startDemoUpstream();
    idp = await startDevIdp({ redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`] });
    const config = testConfig({
      idp,
      bearer: [idpBearer(idp)],
      roles: { claims: ['groups'], map: { admins: 'admin' } },
      routes: [
        route('admin', '/admin', upstream.url, {
          // bob is in eng: denied by deny[0] (alice, admins and eng, too: deny rules win)
          policy: { allow: [{ roles: ['admin'] }], deny: [{ groups: ['eng'] }] },
        }),
        route('api', '/api', upstream.url, { auth: ['bearer'], policy: { allow: [{ roles: ['admin'] }] } }),
        route('home', '/home', upstream.url),
      ],
    });
    gh = await startTestGatehouse(config, { port });
    await gh.ready();
    const jar = new CookieJar();
    const done = await loginThroughIdp(`${gh.url}/.gatehouse/start?rd=/home`, 'bob', jar);
    assert.equal(done.status, 200, 'bob is logged in');
    bobCookie = jar.header(new URL(gh.url)) ?? '';
    assert.ok(bobCookie.includes('gatehouse'), 'a session cookie');
    credentials.push(...bobCookie.split(/;\s*/).map((c) => c.slice(c.indexOf('=') + 1)));
    token = await machineToken(idp);
    credentials.push(token, idp.clientSecret, idp.machineClient.secret);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gh?.close();
    await idp?.close();
    upstream?.server.close();
  });

  /** The live page, with every request it makes and every CSP report recorded. */
  async function openLive(): Promise<{ page: Page; requests: string[]; violations: string[] }> {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    const requests: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    const res = await page.goto(`${gh.adminUrl}/`);
    assert.equal(res?.status(), 200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/]+=*'(;|$)/, 'only the hashed inline script');
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res?.headers()['cache-control'], 'no-store');
    // The script ran under the CSP: it replaced the placeholder.
    await page.locator('#updated', { hasText: 'updated' }).waitFor();
    return { page, requests, violations };
  }

  it('shows bob’s denial within a poll, with its reason and rule, and the filter finds it', async () => {
    const { page, requests, violations } = await openLive();
    const res = await request(`${gh.url}/admin/reports`, {
      headers: { cookie: bobCookie, accept: 'application/json' },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 403);
    const bobRow = page
      .locator('#decisions tr', { hasText: 'bob@example.com' })
      .filter({ hasText: 'policy_denied' });
    await bobRow.first().waitFor(SHOWN_WITHIN);
    const cells = await bobRow.first().locator('td').allTextContents();
    assert.equal(cells[1], 'admin', 'route');
    assert.equal(cells[2], 'deny', 'decision');
    assert.equal(cells[3], 'policy_denied', 'reason');
    assert.equal(cells[4], 'deny[0]', 'the rule that decided');
    assert.equal(cells[5], '403');

    // Someone else's traffic, which the filter must hide.
    const api = await request(`${gh.url}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
    await api.body.dump();
    assert.equal(api.statusCode, 403);
    await page.locator('#decisions tr', { hasText: '/api/orders' }).first().waitFor(SHOWN_WITHIN);

    // "why was bob denied?": type bob, pick deny.
    await page.fill('#q', 'bob');
    await page.selectOption('#f-decision', 'deny');
    const rows = page.locator('#decisions tr');
    await waitFor(async () => (await rows.count()) >= 1, { timeoutMs: 5000, what: 'filtered rows' });
    for (const text of await rows.allTextContents()) {
      assert.match(text, /bob/);
      assert.match(text, /deny/);
      assert.doesNotMatch(text, /\/api\/orders/);
    }
    // By route: only the api denial.
    await page.fill('#q', '');
    await page.selectOption('#f-route', 'api');
    await waitFor(async () => (await rows.allTextContents()).every((t) => t.includes('/api/orders')), {
      timeoutMs: 5000,
      what: 'only api rows',
    });
    assert.ok((await rows.count()) >= 1);

    assert.deepEqual(
      requests.filter((u) => !u.startsWith(`${gh.adminUrl}/`)),
      [],
      'no request leaves the admin origin',
    );
    assert.ok(
      requests.some((u) => u === `${gh.adminUrl}/live.json`),
      'it polls /live.json',
    );
    assert.deepEqual(violations, [], 'nothing the CSP had to refuse');
    await page.close();
  });

  it('draws request and deny rates per route as sparklines', async () => {
    const { page } = await openLive();
    for (let i = 0; i < 5; i++) {
      const res = await request(`${gh.url}/admin/x${i}`, {
        headers: { cookie: bobCookie, accept: 'application/json' },
      });
      await res.body.dump();
    }
    const adminRow = page.locator('#rates tr', { hasText: 'admin' });
    await waitFor(async () => Number((await adminRow.locator('td').nth(4).textContent()) ?? 0) >= 5, {
      timeoutMs: 8000,
      what: 'the denials counted in the rate history',
    });
    assert.equal(await adminRow.locator('svg.spark polyline').count(), 2, 'requests and denied');
    const points = await adminRow.locator('svg.spark polyline.deny').getAttribute('points');
    assert.match(points ?? '', /^[\d., -]+$/);
    await page.close();
  });

  it('shows IdP discovery, bearer keys, store and the last reload with its errors', async () => {
    const { page } = await openLive();
    const status = page.locator('#status');
    await status.locator('td', { hasText: 'discovery ok' }).first().waitFor(SHOWN_WITHIN);
    await status.locator('td', { hasText: 'keys loaded' }).first().waitFor(SHOWN_WITHIN);
    await status.locator('td', { hasText: 'synced' }).first().waitFor(SHOWN_WITHIN);

    const good = readFileSync(gh.configFile, 'utf8');
    writeFileSync(gh.configFile, `${good}\nnot_a_key: 1\n`);
    const refused = await gh.gh.reload();
    assert.equal(refused.ok, false);
    await status.locator('td', { hasText: 'last reload error' }).waitFor(SHOWN_WITHIN);
    await status.locator('td', { hasText: 'not_a_key' }).waitFor(SHOWN_WITHIN);
    const view = await liveJson(gh.adminUrl);
    const p = view.processes[0]!;
    assert.equal(view.mode, 'single');
    assert.equal(p.config.last_reload?.result, 'error');
    assert.ok(p.idps[0]?.keys !== undefined && p.idps[0].discovery === 'ok');
    assert.equal(p.bearer[0]?.keys.loaded, true);
    assert.deepEqual([p.store.kind, p.store.synced], ['memory', true]);

    writeFileSync(gh.configFile, good);
    assert.equal((await gh.gh.reload()).ok, true);
    await status.locator('td', { hasText: 'last reload success' }).waitFor(SHOWN_WITHIN);
    await page.close();
  });

  it('puts no token, cookie or secret in the page or its JSON', async () => {
    const { page } = await openLive();
    await page.locator('#decisions tr').first().waitFor(SHOWN_WITHIN);
    const html = await page.content();
    const json = JSON.stringify(await liveJson(gh.adminUrl));
    const literals = collectLiteralSecrets([
      join(ROOT, 'test'),
      join(ROOT, 'src/demo'),
      join(ROOT, 'config'),
    ]);
    for (const [what, text] of [
      ['page', html],
      ['live.json', json],
    ] as const) {
      assert.deepEqual(
        scanText(text, literals, what).map((f) => `${f.file} ${f.kind} ${f.excerpt}`),
        [],
      );
      for (const c of credentials)
        assert.ok(c.length > 8 && !text.includes(c), `a credential in the ${what}`);
      assert.doesNotMatch(text, /session_id|"sid"|access_token|refresh_token|client_secret/);
    }
    // What the audit line holds is there: the operator needs it.
    assert.match(json, /bob@example\.com/);
    await page.close();
  });

  it('renders hostile request data as text, never as markup', async () => {
    const { page, requests } = await openLive();
    const res = await request(`${gh.url}/admin/%3Cimg%20src=http://203.0.113.9/x%20onerror=alert(1)%3E`, {
      headers: { cookie: bobCookie, accept: 'application/json' },
    });
    await res.body.dump();
    await page.locator('#decisions td', { hasText: 'onerror' }).first().waitFor(SHOWN_WITHIN);
    assert.equal(await page.locator('#decisions img').count(), 0);
    assert.deepEqual(
      requests.filter((u) => !u.startsWith(`${gh.adminUrl}/`)),
      [],
    );
    await page.close();
  });

  it('is served by the admin listener only, read-only, and only to same-origin loopback callers', async () => {
    for (const path of ['/', '/live.json']) {
      const pub = await request(`${gh.url}${path}`);
      const body = await pub.body.text();
      assert.notEqual(pub.statusCode, 200, `public ${path}`);
      assert.doesNotMatch(body, /Gatehouse · live|"decisions"|policy_denied/);
      const post = await request(`${gh.adminUrl}${path}`, { method: 'POST', body: '{}' });
      await post.body.dump();
      assert.equal(post.statusCode, 405, `POST ${path}`);
      // DNS rebinding: an attacker's name resolving to loopback.
      const rebound = await request(`${gh.adminUrl}${path}`, { headers: { host: 'attacker.example' } });
      await rebound.body.dump();
      assert.equal(rebound.statusCode, 403);
      const crossSite = await request(`${gh.adminUrl}${path}`, {
        headers: { 'sec-fetch-site': 'cross-site' },
      });
      await crossSite.body.dump();
      assert.equal(crossSite.statusCode, 403);
      const local = await request(`${gh.adminUrl}${path}`, { headers: { host: 'localhost:9090' } });
      await local.body.dump();
      assert.equal(local.statusCode, 200, 'localhost (ssh -L, kubectl port-forward)');
    }
  });
});

describe('admin.live_view: false', () => {
  it('serves neither / nor /live.json, and keeps /metrics', async () => {
    const upstream = await startDemoUpstream();
    const gh = await startTestGatehouse(
      testConfig({
        admin: { listen: '127.0.0.1:0', live_view: false },
        routes: [route('home', '/', upstream.url, { policy: 'public' })],
      }),
    );
    try {
      for (const path of ['/', '/live.json']) {
        const res = await request(`${gh.adminUrl}${path}`);
        await res.body.dump();
        assert.equal(res.statusCode, 404, path);
      }
      const metrics = await request(`${gh.adminUrl}/metrics`);
      await metrics.body.dump();
      assert.equal(metrics.statusCode, 200);
      assert.equal(gh.gh.current().recent, undefined, 'no ring is kept');
    } finally {
      await gh.close();
      upstream.server.close();
    }
  });
});
