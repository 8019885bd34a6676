/**
 * The pages a person sees, in a real Chromium against a real Gatehouse and OpenID Provider: each
 * page says what happened (its reason), offers next steps that are real, working links, names
 * who is signed in on a 403, loads nothing from anywhere (every request intercepted and
 * checked), and goes out with the strict CSP. The `ui:` keys are applied; a layout override
 * replaces the default layout and still escapes every value.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { request } from 'undici';
import { startDemoUpstream } from '../../src/demo/demo-upstream.ts';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { chromiumSkip, launchChromium } from '../helpers/browser.ts';
import { AUTHENTICATED, route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, TEST_LOG_DIR, type TestGatehouse } from '../helpers/gatehouse.ts';
import { CORP_LABEL, type MultiIdpWorld, startMultiIdpWorld } from '../helpers/multi-idp.ts';

const PREFIX = '/.gatehouse';
const IDLE_MS = 3000;
const CSP =
  /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]{44}'; img-src data: 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/;

describe('pages in a browser', { skip: chromiumSkip() }, () => {
  let idp: DevIdp;
  let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
  let gh: TestGatehouse;
  let custom: TestGatehouse;
  let browser: Browser;
  let assets: string;

  before(async () => {
    mkdirSync(TEST_LOG_DIR, { recursive: true });
    assets = mkdtempSync(join(TEST_LOG_DIR, 'pages-assets-'));
    writeFileSync(join(assets, 'pages.css'), 'header.top{border-top:6px solid rgb(1, 2, 3)}');
    mkdirSync(join(assets, 'templates'));
    writeFileSync(
      join(assets, 'templates', 'layout.html'),
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{title}} – {{app_name}}</title>{{> style}}</head>' +
        '<body><main id="custom-layout" data-reason="{{reason}}"><h1>{{title}}</h1><p>{{message}}</p>{{> who}}{{> details}}{{> actions}}</main></body></html>',
    );
    const port = await freePort();
    upstream = await startDemoUpstream();
    idp = await startDevIdp({
      redirectUris: [`http://127.0.0.1:${port}${PREFIX}/callback`],
      postLogoutRedirectUris: [`http://127.0.0.1:${port}${PREFIX}/signed_out`],
    });
    const config = (ui: Record<string, unknown>) =>
      testConfig({
        idp,
        oidc: { display_name: 'Acme SSO' },
        session: { idle_timeout: `${IDLE_MS}ms` },
        roles: { claims: ['groups'], map: { admins: 'admin' } },
        ui,
        routes: [
          route('admin', '/admin', upstream.url, { policy: { allow: [{ roles: ['admin'] }] } }),
          route('app', '/', upstream.url, { policy: AUTHENTICATED }),
        ],
      });
    gh = await startTestGatehouse(
      config({
        app_name: 'Acme Portal',
        logo_url: '/static/logo.png',
        support_url: 'https://help.example.com/access',
        custom_css: join(assets, 'pages.css'),
      }),
      { port },
    );
    custom = await startTestGatehouse(config({ templates_dir: join(assets, 'templates') }));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gh?.close();
    await custom?.close();
    await idp?.close();
    upstream?.server.close();
  });

  /** A context whose every request is checked: only Gatehouse and the IdP, nothing else. */
  async function guardedContext(): Promise<{
    context: BrowserContext;
    foreign: string[];
    violations: string[];
  }> {
    const context = await browser.newContext();
    const foreign: string[] = [];
    const violations: string[] = [];
    const allowed = new Set([new URL(gh.url).origin, new URL(idp.issuer).origin]);
    await context.route('**/*', (r) => {
      const url = new URL(r.request().url());
      if (allowed.has(url.origin)) return r.continue();
      // The dev IdP's own login page loads a web font; only Gatehouse's pages are judged here.
      const from = r.request().frame().url();
      if (from.startsWith(gh.url)) foreign.push(url.href);
      return r.abort();
    });
    context.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    return { context, foreign, violations };
  }

  async function logIn(page: Page, target: string, user: string): Promise<void> {
    await page.goto(target);
    assert.ok(page.url().startsWith(idp.issuer), `at the IdP, at ${page.url()}`);
    await page.fill('input[name="login"]', user);
    await page.fill('input[name="password"]', 'any password');
    await Promise.all([page.waitForURL((u) => u.origin === gh.url), page.click('button[type="submit"]')]);
  }

  it('403: says who is signed in and via which IdP, with the ui keys, CSP and no external request', async () => {
    const { context, foreign, violations } = await guardedContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const responses: Record<string, string>[] = [];
      page.on('response', (r) => {
        if (r.url().startsWith(`${gh.url}/admin`)) responses.push(r.headers());
      });
      await logIn(page, `${gh.url}/admin/reports`, 'bob');
      assert.equal(page.url(), `${gh.url}/admin/reports`);
      assert.equal(
        await page.locator('h1').textContent(),
        'You don’t have access to this page'.replace('’', "'"),
      );
      const who = await page.locator('.who').textContent();
      assert.equal(who, 'Signed in as Bob Builder (bob@example.com) via Acme SSO.');
      assert.match((await page.locator('footer').textContent()) ?? '', /Error 403 · Reason: no_rule_matched/);
      // ui keys: app name, support link, logo, custom CSS (which the CSP hash admits).
      assert.equal(await page.locator('header .app').textContent(), 'Acme Portal');
      assert.equal(await page.title(), "You don't have access to this page · Acme Portal");
      assert.equal(
        await page.getByRole('link', { name: 'Contact support' }).getAttribute('href'),
        'https://help.example.com/access',
      );
      assert.equal(await page.locator('header img').getAttribute('src'), '/static/logo.png');
      const border = await page
        .locator('header.top')
        .evaluate(
          (el) =>
            (
              globalThis as unknown as { getComputedStyle(e: unknown): { borderTopColor: string } }
            ).getComputedStyle(el).borderTopColor,
        );
      assert.equal(border, 'rgb(1, 2, 3)', 'custom_css applied');
      const headers = responses.at(-1)!;
      assert.match(headers['content-security-policy']!, CSP);
      assert.equal(headers['x-frame-options'], 'DENY');
      assert.deepEqual(violations, []);
      // The logo is on Gatehouse's origin: the only request that is not the page itself.
      assert.deepEqual(foreign, []);

      // "Sign out" is a real link: through the IdP's logout to the signed-out page.
      await page.getByRole('link', { name: 'Sign out' }).click();
      if (page.url().startsWith(idp.issuer)) {
        await Promise.all([
          page.waitForURL(`${gh.url}${PREFIX}/signed_out`),
          page.getByRole('button', { name: /sign me out/i }).click(),
        ]);
      }
      assert.equal(page.url(), `${gh.url}${PREFIX}/signed_out`);
      assert.equal(await page.locator('h1').textContent(), 'You are signed out');
      const cookies = await context.cookies(gh.url);
      assert.equal(cookies.filter((c) => c.name.startsWith('gatehouse')).length, 0, 'session cookie gone');
      // "Sign in again" starts a login.
      await page.getByRole('link', { name: 'Sign in again' }).click();
      assert.ok(page.url().startsWith(idp.issuer), `sign in again goes to the IdP, at ${page.url()}`);
      assert.deepEqual(foreign, []);
    } finally {
      await context.close();
    }
  });

  it('an idle session ends on "Your session expired", whose "Sign in again" returns to the page', async () => {
    const { context, foreign } = await guardedContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const target = `${gh.url}/notes?id=7`;
      await logIn(page, target, 'alice');
      assert.equal(page.url(), target);
      await new Promise((r) => setTimeout(r, IDLE_MS + 500));
      const res = await page.goto(target);
      assert.equal(res?.status(), 401);
      assert.equal(page.url(), target, 'no silent redirect');
      assert.equal(await page.locator('h1').textContent(), 'Your session expired');
      assert.match((await page.locator('footer').textContent()) ?? '', /session_idle/);
      const again = page.getByRole('link', { name: 'Sign in again' });
      const href = new URL((await again.getAttribute('href'))!, gh.url);
      assert.equal(href.pathname, `${PREFIX}/start`);
      assert.equal(new URL(href.searchParams.get('rd')!, gh.url).href, target);
      await again.click();
      // The IdP may still know alice (its own session): then the browser comes straight back.
      if (page.url().startsWith(idp.issuer) && (await page.locator('input[name="login"]').count()) > 0) {
        await page.fill('input[name="login"]', 'alice');
        await page.fill('input[name="password"]', 'any password');
        await page.click('button[type="submit"]');
      }
      await page.waitForURL(target);
      assert.match((await page.textContent('body')) ?? '', /x-auth-request-user\s*alice/);
      assert.deepEqual(foreign, []);

      // An XHR with the expired session keeps getting JSON.
      await new Promise((r) => setTimeout(r, IDLE_MS + 500));
      const api = await page.evaluate(async () => {
        const r = await fetch('/notes', { headers: { accept: 'application/json' } });
        return { status: r.status, body: await r.text() };
      });
      assert.equal(api.status, 401);
      assert.equal(JSON.parse(api.body).error, 'session_idle');
    } finally {
      await context.close();
    }
  });

  it("idp_error passes on the IdP's error_description, escaped, with a working way to start again", async () => {
    const { context, foreign } = await guardedContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      let authorize: URL | undefined;
      page.on('request', (r) => {
        const url = new URL(r.url());
        if (url.href.startsWith(idp.issuer) && url.searchParams.has('state')) authorize = url;
      });
      await page.goto(`${gh.url}/app`);
      assert.ok(authorize, 'the browser went to the IdP with a state');
      // The IdP answers with an error instead of a code (as when the user is not assigned).
      const said = '<img src=x onerror=alert(1)> User is not assigned to this application';
      const callback = new URL(`${gh.url}${PREFIX}/callback`);
      callback.searchParams.set('error', 'access_denied');
      callback.searchParams.set('error_description', said);
      callback.searchParams.set('state', authorize.searchParams.get('state')!);
      callback.searchParams.set('iss', idp.issuer);
      const res = await page.goto(callback.href);
      assert.equal(res?.status(), 400);
      assert.equal(await page.locator('h1').textContent(), 'Your identity provider refused the sign-in');
      assert.equal(await page.locator('.note q').textContent(), said, 'shown as text');
      assert.equal(await page.locator('img[src="x"]').count(), 0, 'never as markup');
      await page.getByRole('link', { name: 'Start sign-in again' }).click();
      assert.ok(page.url().startsWith(idp.issuer), `start again goes to the IdP, at ${page.url()}`);
      assert.deepEqual(foreign, []);
    } finally {
      await context.close();
    }
  });

  it('/userinfo is a readable page for a browser and JSON otherwise', async () => {
    const { context, foreign } = await guardedContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await logIn(page, `${gh.url}/home`, 'alice');
      await page.goto(`${gh.url}${PREFIX}/userinfo`);
      assert.equal(await page.locator('h1').textContent(), 'Your identity');
      const row = async (name: string) => page.locator(`dt:text-is("${name}") + dd`).textContent();
      assert.equal(await row('Subject (sub)'), 'alice');
      assert.equal(await row('Groups'), 'admins, eng');
      assert.equal(await row('Roles'), 'admin');
      assert.equal(await row('Provider'), 'Acme SSO');
      // The page itself allows no fetch (CSP connect-src 'none'): ask from the app's page.
      await page.goto(`${gh.url}/home`);
      const json = await page.evaluate(async () => (await fetch('/.gatehouse/userinfo')).json());
      assert.equal((json as { sub: string }).sub, 'alice');
      assert.deepEqual(foreign, []);
    } finally {
      await context.close();
    }
  });

  it('a layout override replaces the default layout and still escapes every value', async () => {
    const page = await browser.newPage();
    try {
      const direct = await request(`${custom.url}${PREFIX}/nope?x=<b>`, { headers: { accept: 'text/html' } });
      const body = await direct.body.text();
      assert.equal(direct.statusCode, 404);
      assert.match(body, /<main id="custom-layout" data-reason="route_not_found"><h1>Page not found<\/h1>/);
      assert.match(String(direct.headers['content-security-policy']), /style-src 'sha256-/);
      await page.goto(`${custom.url}${PREFIX}/signed_out`);
      assert.equal(await page.locator('#custom-layout h1').textContent(), 'You are signed out');
      assert.equal(await page.title(), 'You are signed out – Gatehouse');

      // A broken layout on reload is a config error; the old layout keeps serving.
      const layout = join(assets, 'templates', 'layout.html');
      writeFileSync(layout, '<h1>{{title}}</h1><script>alert(1)</script>{{> details}}{{> actions}}');
      const reload = await custom.gh.reload();
      assert.equal(reload.ok, false);
      assert.match(
        String(!reload.ok && reload.error.message),
        /ui\.templates_dir: layout\.html: <script> is not allowed/,
      );
      await page.goto(`${custom.url}${PREFIX}/signed_out`);
      assert.equal(await page.locator('#custom-layout h1').textContent(), 'You are signed out');
    } finally {
      await page.close();
    }
  });
});

describe('provider switch page in a browser', { skip: chromiumSkip() }, () => {
  let w: MultiIdpWorld;
  let browser: Browser;
  before(async () => {
    w = await startMultiIdpWorld();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await w?.close();
  });

  it('a partners session on a corp-only route is told so, and "Sign in with corp" switches', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(`${w.gh.url}/home`);
      await page.getByRole('link', { name: 'partners', exact: true }).click();
      await page.fill('input[name="login"]', 'cg-carol');
      await page.fill('input[name="password"]', 'any password');
      await Promise.all([page.waitForURL(`${w.gh.url}/home`), page.click('button[type="submit"]')]);

      const res = await page.goto(`${w.gh.url}/corp/wiki?p=1`);
      assert.equal(res?.status(), 401);
      assert.equal(page.url(), `${w.gh.url}/corp/wiki?p=1`, 'not sent away silently');
      assert.equal(await page.locator('h1').textContent(), 'This page needs another sign-in');
      assert.equal(
        await page.locator('.who').textContent(),
        'Signed in as Carol Cognito (carol@partner.example) via partners.',
      );
      assert.match((await page.locator('.card').textContent()) ?? '', /replaces your current session/);
      assert.match(res!.headers()['content-security-policy']!, /^default-src 'none'; style-src 'sha256-/);
      await page.getByRole('link', { name: `Sign in with ${CORP_LABEL}` }).click();
      assert.ok(page.url().startsWith(w.corp.issuer), `at corp's login, at ${page.url()}`);
      await page.fill('input[name="login"]', 'kc-alice');
      await page.fill('input[name="password"]', 'any password');
      await Promise.all([page.waitForURL(`${w.gh.url}/corp/wiki?p=1`), page.click('button[type="submit"]')]);
      assert.match((await page.textContent('body')) ?? '', /"x-auth-request-user":\s*"kc-alice"/);
      // The corp session replaced the partners one: a partners-only page now asks again.
      const partner = await page.goto(`${w.gh.url}/partner/home`);
      assert.notEqual(partner?.status(), 200);
    } finally {
      await context.close();
    }
  });
});
