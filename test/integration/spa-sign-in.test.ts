/**
 * Issue 19: a single-page app's fetch() that needs sign-in gets 401 JSON with `sign_in_url`, never
 * a 302 it would follow into a CORS error; a navigation still gets the 302. Real Chromium, real
 * OpenID Provider: alice signs in, her access token is short-lived, then the IdP goes away so
 * the refresh fails – the page's next fetch must see the JSON answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDemoUpstream } from '../../src/demo/demo-upstream.ts';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { chromiumSkip, launchChromium } from '../helpers/browser.ts';
import { AUTHENTICATED, route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';

describe('SPA sign-in answers (issue 19)', { skip: chromiumSkip() }, () => {
  let idp: DevIdp | undefined;
  let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
  let gh: TestGatehouse;
  let browser: Browser;
  let page: Page;

  before(async () => {
    const port = await freePort();
    upstream = await startDemoUpstream();
    // 30 s access tokens are inside refresh_before (60 s): every request refreshes.
    idp = await startDevIdp({
      redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`],
      accessTokenTtl: 30,
    });
    gh = await startTestGatehouse(
      testConfig({ idp, routes: [route('app', '/app', upstream.url, { policy: AUTHENTICATED })] }),
      { port },
    );
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await gh?.close();
    await idp?.close();
    upstream?.server.close();
  });

  it('a fetch after a failed refresh gets 401 JSON with sign_in_url back to the page', async () => {
    await page.goto(`${gh.url}/app/dashboard?tab=2`);
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'any password');
    await Promise.all([
      page.waitForURL(`${gh.url}/app/dashboard?tab=2`),
      page.click('button[type="submit"]'),
    ]);
    // Signed in: the page's own fetch passes.
    const ok = await page.evaluate(async () => (await fetch('/app/api/orders')).status);
    assert.equal(ok, 200);

    await idp!.close(); // the refresh can no longer succeed
    idp = undefined;
    const got = await page.evaluate(async () => {
      const res = await fetch('/app/api/orders', { headers: { accept: 'application/json' } });
      return {
        status: res.status,
        redirected: res.redirected,
        type: res.headers.get('content-type'),
        body: (await res.json()) as { error?: string; sign_in_url?: string },
      };
    });
    assert.equal(got.status, 401);
    assert.equal(got.redirected, false);
    assert.match(String(got.type), /^application\/json/);
    assert.equal(got.body.error, 'refresh_failed');
    assert.equal(
      got.body.sign_in_url,
      `${gh.url}/.gatehouse/start?rd=${encodeURIComponent(`${gh.url}/app/dashboard?tab=2`)}`,
    );
    const audit = await gh.auditLine((l) => l.path === '/app/api/orders' && l.status === 401);
    assert.equal(audit.reason, 'refresh_failed');
  });

  it('a navigation without a session is still redirected to sign in', async () => {
    const first = page.waitForResponse((r) => r.url() === `${gh.url}/app/other`);
    await page.goto(`${gh.url}/app/other`).catch(() => undefined); // the IdP is gone: the end fails
    const res = await first;
    assert.equal(res.status(), 302);
    assert.match(String(res.headers().location), /\/\.gatehouse\/start\?rd=/);
  });
});
