import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { REASONS, type ReasonCode } from '../../../src/errors.ts';
import { escapeHtml, html, plainText } from '../../../src/pages/escape.ts';
import { parseLayout } from '../../../src/pages/layout-template.ts';
import { createPageRenderer } from '../../../src/pages/page-template.ts';
import { createPages } from '../../../src/pages/pages.ts';
import { REASON_PAGES } from '../../../src/pages/reason-pages.ts';

const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' onmouseover='alert(1)",
  '<b title=`x`>y</b>',
  '</style><script>x</script>',
  '&amp; &#x3c;',
];

/** No raw hostile markup in `page`: every `<` it has is one of the layout's own tags. */
function assertInert(page: string, value: string): void {
  assert.ok(!page.includes(value), `raw ${JSON.stringify(value)} in the page`);
  assert.doesNotMatch(page, /<script|<img|onmouseover='/i);
}

describe('escape', () => {
  test('escapeHtml escapes every character that can end text or a quoted attribute', () => {
    assert.equal(
      escapeHtml(`<a href="x" title='y'>\`=&</a>`),
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;`=&amp;&lt;/a&gt;',
    );
  });
  test('html escapes interpolations, not nested html, and drops empty values', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(
      html`<p>${'<x>'}${inner}${undefined}${false}${['a', '<']}</p>`.__html,
      '<p>&lt;x&gt;<b>&lt;i&gt;</b>a&lt;</p>',
    );
    // A look-alike object is text, not markup.
    assert.equal(html`${{ __html: '<x>' } as never}`.__html, '[object Object]');
  });
  test('plainText drops control characters and caps the length', () => {
    assert.equal(plainText('a\u0000b\r\nc\u009b   d', 100), 'a b c d');
    assert.equal(plainText('x'.repeat(500), 10), `${'x'.repeat(9)}…`);
  });
});

describe('page template', () => {
  test('every text in the model is escaped', () => {
    const r = createPageRenderer({ appName: HOSTILE[0]!, supportUrl: '/help?a="b"' });
    for (const v of HOSTILE) {
      const page = r.render({
        title: v,
        message: v,
        reason: v,
        requestId: v,
        status: 403,
        who: { name: v, detail: v, idp: v },
        actions: [{ label: v, href: v }],
      });
      assertInert(page, v);
      assert.match(page, /<html lang="en">/);
      assert.match(page, /<main id="main">/);
      assert.match(page, /<h1>/);
    }
  });

  test('the CSP admits exactly the inline stylesheet, by hash, and nothing external', () => {
    const r = createPageRenderer({ customCss: 'body{color:red}' });
    const csp = r.headers['content-security-policy']!;
    const page = r.render({ title: 't', message: 'm', actions: [] });
    const css = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
    assert.ok(css.endsWith('body{color:red}'), 'custom css appended');
    const hash = createHash('sha256').update(css).digest('base64');
    assert.equal(
      csp,
      `default-src 'none'; style-src 'sha256-${hash}'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.doesNotMatch(page, /<script|<link|@import|url\(/i);
  });

  test('a logo adds its origin (or self) to img-src only', () => {
    assert.match(
      createPageRenderer({ logoUrl: 'https://cdn.example.com/logo.svg' }).headers['content-security-policy']!,
      /img-src data: https:\/\/cdn\.example\.com;/,
    );
    assert.match(
      createPageRenderer({ logoUrl: '/logo.png' }).headers['content-security-policy']!,
      /img-src data: 'self';/,
    );
  });

  test('a layout override: text placeholders escaped, blocks inserted', () => {
    const layout = parseLayout(
      '<!doctype html><html lang="de"><head>{{> style}}<title>{{title}}</title></head><body><h1 title="{{title}}">{{ title }}</h1>{{> who}}{{> details}}{{> actions}}<p>{{request_id}}</p></body></html>',
    );
    const page = createPageRenderer({ layout }).render({
      title: HOSTILE[1]!,
      message: 'm',
      requestId: HOSTILE[0]!,
      actions: [{ label: 'Go', href: '/' }],
    });
    assertInert(page, HOSTILE[1]!);
    assert.match(page, /<html lang="de">/);
    assert.match(page, /<a class="button primary"|<a class="button" href="\/">Go<\/a>/);
    assert.match(page, /<style>/);
  });

  test('a layout is refused for unsafe or unknown placeholders', () => {
    const ok = '{{> details}}{{> actions}}';
    const bad: [string, RegExp][] = [
      [`<script>x</script>${ok}`, /<script> is not allowed/],
      [`{{nope}}${ok}`, /unknown placeholder \{\{nope\}\}/],
      [`{{> nope}}${ok}`, /unknown block/],
      [`<div class={{title}}>${ok}`, /quoted attribute/],
      [`<div {{title}}>${ok}`, /quoted attribute/],
      [`<style>{{title}}</style>${ok}`, /inside <style>/],
      [`<p title="{{> who}}"></p>${ok}`, /between tags/],
      ['{{> details}}', /\{\{> actions\}\} is missing/],
      [`{{ title ${ok}`, /not a placeholder/],
    ];
    for (const [source, message] of bad)
      assert.throws(() => parseLayout(source), { code: 'ERR_INVALID_ARG_VALUE', message }, source);
  });
});

describe('reason pages', () => {
  test('every non-allow reason code has a title, a message and a next step', () => {
    const allow = new Set(['public_route', 'policy_allowed', 'dry_run', 'preflight']);
    for (const code of Object.keys(REASONS) as ReasonCode[]) {
      if (allow.has(code)) continue;
      const page = (REASON_PAGES as Record<string, (typeof REASON_PAGES)['internal_error']>)[code];
      assert.ok(page, `${code} has a page`);
      assert.ok(page.title.length > 0 && page.message.length > 20, code);
      assert.ok(page.actions.length > 0, `${code} offers a next step`);
    }
  });

  test('an error page names its reason, offers its actions and shows who on a 403', () => {
    const pages = createPages({ prefix: '/auth', idpLabels: new Map([['corp', 'Corp <SSO>']]) });
    const id = {
      iss: 'https://idp',
      idp: 'corp',
      sub: 's1',
      name: 'Alice <b>',
      email: 'alice@example.com',
      groups: [],
      roles: [],
      claims: {},
      authType: 'session',
      expiresAt: 0,
    } as const;
    const page = pages.error('policy_denied', 403, { who: pages.who(id), requestId: 'r-1' });
    assert.match(page, /You don&#39;t have access to this page/);
    assert.match(
      page,
      /Signed in as <strong>Alice &lt;b&gt;<\/strong> <span class="muted">\(alice@example.com\)<\/span> via <strong>Corp &lt;SSO&gt;<\/strong>/,
    );
    assert.match(page, /href="\/auth\/sign_out">Sign out</);
    assert.match(page, /<code>policy_denied<\/code>/);
    // No "who" on a page that is not a 403.
    assert.doesNotMatch(pages.error('upstream_timeout', 504, { who: pages.who(id) }), /Signed in as/);
  });

  test('idp_error repeats the IdP description, escaped and capped', () => {
    const page = createPages().error('idp_error', 400, {
      idpMessage: `<script>x</script>${'y'.repeat(1000)}`,
    });
    assert.match(page, /Your identity provider said: <q>&lt;script&gt;x&lt;\/script&gt;y+…<\/q>/);
    const said = /<q>([^<]*)<\/q>/.exec(page)![1]!;
    assert.ok(said.length < 400, `capped: ${said.length}`);
  });

  test('session expired: "Sign in again" carries the login URL', () => {
    const page = createPages().error('session_idle', 401, { signIn: '/.gatehouse/start?rd=%2Fa%3Fb%3D1' });
    assert.match(
      page,
      /<a class="button primary" href="\/.gatehouse\/start\?rd=%2Fa%3Fb%3D1">Sign in again<\/a>/,
    );
  });
});
