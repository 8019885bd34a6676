import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acceptQuality, escapeHtml, prefersHtml } from '../../../src/http/send-error.ts';

describe('Accept negotiation', () => {
  test('browsers get HTML; APIs, curl and fetch get JSON', () => {
    assert.equal(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true);
    assert.equal(prefersHtml('text/html'), true);
    assert.equal(prefersHtml('*/*'), false);
    assert.equal(prefersHtml(undefined), false);
    assert.equal(prefersHtml(''), false);
    assert.equal(prefersHtml('application/json'), false);
    assert.equal(prefersHtml('application/json, text/html;q=0.5'), false);
    assert.equal(prefersHtml('text/html;q=0, */*'), false);
    assert.equal(prefersHtml('text/*, application/json;q=0.5'), true);
  });

  test('acceptQuality uses the most specific range and treats a bad q as 0', () => {
    assert.equal(acceptQuality('text/*;q=0.3, text/html;q=0.7, */*;q=0.1', 'text/html'), 0.7);
    assert.equal(acceptQuality('text/*;q=0.3, */*;q=0.1', 'text/html'), 0.3);
    assert.equal(acceptQuality('text/html;q=abc', 'text/html'), 0);
    assert.equal(acceptQuality('text/plain', 'text/html'), 0);
  });

  test('escapeHtml', () => {
    assert.equal(
      escapeHtml(`<script>"a"&'b'</script>`),
      '&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;',
    );
  });
});
