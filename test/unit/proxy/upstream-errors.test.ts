import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRequestTarget } from '../../../src/http/request-target.ts';
import { reasonForUpstreamError } from '../../../src/proxy/upstream-errors.ts';
import { upstreamUrl } from '../../../src/proxy/upstream-proxy.ts';

describe('reasonForUpstreamError', () => {
  const withCode = (code: string) => Object.assign(new Error('x'), { code });
  test('maps node error codes to reason codes', () => {
    assert.equal(reasonForUpstreamError(withCode('ECONNREFUSED')), 'upstream_unreachable');
    assert.equal(reasonForUpstreamError(withCode('ENOTFOUND')), 'upstream_unreachable');
    assert.equal(reasonForUpstreamError(withCode('DEPTH_ZERO_SELF_SIGNED_CERT')), 'upstream_unreachable');
    assert.equal(reasonForUpstreamError(withCode('ECONNECT_TIMEOUT')), 'upstream_timeout');
    assert.equal(reasonForUpstreamError(withCode('ECONNRESET')), 'upstream_reset');
    assert.equal(reasonForUpstreamError('not an error'), 'upstream_unreachable');
    assert.equal(reasonForUpstreamError(null), 'upstream_unreachable');
  });
});

describe('upstreamUrl', () => {
  const target = (path: string, search = '') => ({ path, search });
  test('joins the upstream path prefix and merges queries', () => {
    assert.equal(upstreamUrl(new URL('http://u:1'), target('/a/b', '?x=1')).href, 'http://u:1/a/b?x=1');
    assert.equal(upstreamUrl(new URL('http://u:1/base'), target('/a')).href, 'http://u:1/base/a');
    assert.equal(upstreamUrl(new URL('http://u:1/base/'), target('/')).href, 'http://u:1/base/');
    assert.equal(
      upstreamUrl(new URL('https://u/base?k=v'), target('/a', '?x=1')).href,
      'https://u/base/a?k=v&x=1',
    );
  });
  test('a canonical path survives URL serialization unchanged', () => {
    const parsed = parseRequestTarget(`/a{b}/%c3%a9/x?q="'<>&r=%2F`);
    const url = upstreamUrl(new URL('http://u'), parsed);
    assert.equal(url.pathname + url.search, parsed.path + parsed.search);
  });
});
