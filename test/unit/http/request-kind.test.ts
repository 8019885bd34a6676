/**
 * request-kind: the one place that tells a browser navigation (302 to sign in) from a script's
 * request (401 JSON with `sign_in_url`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isScriptRequest, returnTarget, wantsRedirect } from '../../../src/http/request-kind.ts';

const NAV = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('wantsRedirect / isScriptRequest', () => {
  it('a navigation wants the redirect', () => {
    for (const headers of [{ accept: NAV }, { accept: NAV, 'sec-fetch-mode': 'navigate' }]) {
      assert.equal(wantsRedirect({ method: 'GET', headers }), true);
      assert.equal(isScriptRequest({ method: 'GET', headers }), false);
    }
  });

  it('fetch, XHR and JSON-preferring clients do not', () => {
    for (const headers of [
      { accept: NAV, 'sec-fetch-mode': 'cors' },
      { accept: NAV, 'sec-fetch-mode': 'same-origin' },
      { accept: NAV, 'x-requested-with': 'XMLHttpRequest' },
      { accept: 'application/json, text/html;q=0.5' },
      { accept: 'application/json' },
    ]) {
      assert.equal(wantsRedirect({ method: 'GET', headers }), false, JSON.stringify(headers));
      assert.equal(isScriptRequest({ method: 'GET', headers }), true, JSON.stringify(headers));
    }
  });

  it('neither: a POST, a bearer caller, an image load', () => {
    assert.equal(wantsRedirect({ method: 'POST', headers: { accept: NAV } }), false);
    assert.equal(
      wantsRedirect({ method: 'GET', headers: { accept: NAV, authorization: 'Bearer x' } }),
      false,
    );
    const img = { method: 'GET', headers: { accept: 'image/*', 'sec-fetch-mode': 'no-cors' } };
    assert.equal(wantsRedirect(img), false);
    assert.equal(isScriptRequest(img), false);
  });
});

describe('returnTarget', () => {
  const url = 'https://app.example.com/api/orders';
  it('takes a same-origin Referer, else the request URL', () => {
    assert.equal(returnTarget(url, 'https://app.example.com/page?x=1'), 'https://app.example.com/page?x=1');
    assert.equal(returnTarget(url, 'https://app.example.com:8443/page'), url);
    assert.equal(returnTarget(url, 'https://evil.example/page'), url);
    assert.equal(returnTarget(url, '::'), url);
    assert.equal(returnTarget(url, undefined), url);
  });
});
