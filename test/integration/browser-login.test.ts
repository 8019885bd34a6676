/**
 * The login as a person does it: a real Chromium (Debian's, driven by playwright-core) opens a
 * protected URL, is sent to the real OpenID Provider, logs in as alice, and lands back on the
 * original URL showing the upstream page with her identity.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDemoUpstream } from '../../src/demo/demo-upstream.ts';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { chromiumSkip, launchChromium } from '../helpers/browser.ts';
import { route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';

describe('browser login', {
  skip: chromiumSkip(),
}, () => {
  let idp: DevIdp;
  let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
  let gh: TestGatehouse;
  let browser: Browser;

  before(async () => {
    const port = await freePort();
    upstream = await startDemoUpstream();
    idp = await startDevIdp({ redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`] });
    gh = await startTestGatehouse(
      testConfig({
        idp,
        roles: { claims: ['groups'], map: { admins: 'admin' } },
        routes: [route('admin', '/admin', upstream.url, { policy: { allow: [{ roles: ['admin'] }] } })],
      }),
      { port },
    );
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gh?.close();
    await idp?.close();
    upstream?.server.close();
  });

  it('logs alice in and lands on the page she asked for, with her identity upstream', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${gh.url}/admin/reports?week=48`);
    // At the IdP's login form.
    assert.ok(page.url().startsWith(idp.issuer), `redirected to the IdP, at ${page.url()}`);
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'any password');
    await Promise.all([
      page.waitForURL(`${gh.url}/admin/reports?week=48`),
      page.click('button[type="submit"]'),
    ]);
    const text = await page.textContent('body');
    assert.match(text ?? '', /Hello from the demo upstream/);
    assert.match(text ?? '', /x-auth-request-user\s*alice/);
    assert.match(text ?? '', /x-auth-request-roles\s*admin/);
    const cookies = await page.context().cookies(gh.url);
    const session = cookies.find((c) => c.name === 'gatehouse' || c.name.startsWith('gatehouse.'));
    assert.ok(session, 'a session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    await page.close();
  });

  it('issue-20: opened as localhost, goes to public_url first and logs in end to end', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    const port = new URL(gh.url).port;
    await page.goto(`http://localhost:${port}/admin/reports?week=49`);
    assert.ok(page.url().startsWith(idp.issuer), `redirected to the IdP, at ${page.url()}`);
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'any password');
    await Promise.all([
      page.waitForURL(`${gh.url}/admin/reports?week=49`),
      page.click('button[type="submit"]'),
    ]);
    assert.match((await page.textContent('body')) ?? '', /x-auth-request-user\s*alice/);
    await page.close();
  });
});
