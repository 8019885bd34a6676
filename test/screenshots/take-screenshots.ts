/**
 * `npm run screenshots`: a picture of every page Gatehouse renders, for README "Pages". Starts a
 * real Gatehouse with a real dev IdP (and the two-provider world for the chooser and the provider
 * switch), walks a real Chromium to each page as a person would, and writes PNGs to
 * docs/screenshots/. Not part of `npm test`; run it after changing a page and commit the PNGs.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startDemoUpstream } from '../../src/demo/demo-upstream.ts';
import { startDevIdp } from '../../src/demo/dev-idp.ts';
import { launchChromium } from '../helpers/browser.ts';
import { AUTHENTICATED, route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse } from '../helpers/gatehouse.ts';
import { CORP_LABEL, startMultiIdpWorld } from '../helpers/multi-idp.ts';

const OUT = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const PREFIX = '/.gatehouse';
const IDLE_MS = 2000;
const UI = { app_name: 'Acme Portal', support_url: 'https://help.example.com/access' };

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  console.log(`docs/screenshots/${name}.png  ${page.url()}`);
}

async function logIn(page: Page, idpIssuer: string, user: string): Promise<void> {
  if (!page.url().startsWith(idpIssuer)) throw new Error(`expected the IdP login, at ${page.url()}`);
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', 'any password');
  await Promise.all([
    page.waitForURL((u) => !u.href.startsWith(idpIssuer)),
    page.click('button[type="submit"]'),
  ]);
}

async function onePage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 880, height: 620 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

async function singleProvider(browser: Browser): Promise<void> {
  const port = await freePort();
  const upstream = await startDemoUpstream();
  const idp = await startDevIdp({
    redirectUris: [`http://127.0.0.1:${port}${PREFIX}/callback`],
    postLogoutRedirectUris: [`http://127.0.0.1:${port}${PREFIX}/signed_out`],
  });
  const deadPort = await freePort(); // nothing listens: the 502 page
  const gh = await startTestGatehouse(
    testConfig({
      idp,
      oidc: { display_name: 'Acme SSO' },
      session: { idle_timeout: `${IDLE_MS}ms` },
      roles: { claims: ['groups'], map: { admins: 'admin' } },
      ui: UI,
      routes: [
        route('admin', '/admin', upstream.url, { policy: { allow: [{ roles: ['admin'] }] } }),
        route('reports', '/reports', `http://127.0.0.1:${deadPort}`, { policy: AUTHENTICATED }),
        route('app', '/', upstream.url, { policy: AUTHENTICATED }),
      ],
    }),
    { port },
  );
  try {
    await gh.ready(15_000);
    // 403, as bob (not an admin).
    const bob = await onePage(browser);
    await bob.goto(`${gh.url}/admin/settings`);
    await logIn(bob, idp.issuer, 'bob');
    await shot(bob, 'forbidden');
    await bob.goto(`${gh.url}/reports/weekly`);
    await shot(bob, 'upstream-unavailable');
    await bob.goto(`${gh.url}${PREFIX}/userinfo`);
    await shot(bob, 'userinfo');
    // Sign out, through the IdP's logout confirmation, to the signed-out page.
    await bob.goto(`${gh.url}${PREFIX}/sign_out`);
    if (bob.url().startsWith(idp.issuer)) {
      await Promise.all([
        bob.waitForURL(`${gh.url}${PREFIX}/signed_out`),
        bob.getByRole('button', { name: /sign me out/i }).click(),
      ]);
    }
    await shot(bob, 'signed-out');
    await bob.context().close();

    // Session expired (idle).
    const alice = await onePage(browser);
    await alice.goto(`${gh.url}/notes?id=7`);
    await logIn(alice, idp.issuer, 'alice');
    await new Promise((r) => setTimeout(r, IDLE_MS + 500));
    await alice.goto(`${gh.url}/notes?id=7`);
    await shot(alice, 'session-expired');
    await alice.context().close();

    // The IdP refuses the sign-in and says why.
    const carl = await onePage(browser);
    let state: string | null = null;
    carl.on('request', (r) => {
      const url = new URL(r.url());
      if (url.href.startsWith(idp.issuer) && url.searchParams.has('state'))
        state = url.searchParams.get('state');
    });
    await carl.goto(`${gh.url}/home`);
    const callback = new URL(`${gh.url}${PREFIX}/callback`);
    callback.searchParams.set('error', 'access_denied');
    callback.searchParams.set('error_description', 'User is not assigned to this application.');
    callback.searchParams.set('state', state ?? '');
    callback.searchParams.set('iss', idp.issuer);
    await carl.goto(callback.href);
    await shot(carl, 'idp-error');
    await carl.context().close();
  } finally {
    await gh.close();
    await idp.close();
    upstream.server.close();
  }
}

async function twoProviders(browser: Browser): Promise<void> {
  const w = await startMultiIdpWorld();
  try {
    const page = await onePage(browser);
    await page.goto(`${w.gh.url}/admin/dashboard`);
    await shot(page, 'chooser');
    await page.getByRole('link', { name: 'partners', exact: true }).click();
    await logIn(page, w.partners.issuer, 'cg-carol');
    await page.goto(`${w.gh.url}/corp/wiki`);
    await page.getByRole('link', { name: `Sign in with ${CORP_LABEL}` }).waitFor();
    await shot(page, 'provider-switch');
    await page.context().close();
  } finally {
    await w.close();
  }
}

mkdirSync(OUT, { recursive: true });
const browser = await launchChromium();
try {
  await singleProvider(browser);
  await twoProviders(browser);
} finally {
  await browser.close();
}
