import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRequestTarget } from '../../../src/http/request-target.ts';
import { upstreamPath } from '../../../src/proxy/upstream-proxy.ts';

describe('upstreamPath', () => {
  const target = (path: string, search = '') => ({ path, search });

  test('joins the upstream path prefix and merges queries', () => {
    assert.equal(upstreamPath(new URL('http://u:1'), target('/a/b', '?x=1')), '/a/b?x=1');
    assert.equal(upstreamPath(new URL('http://u:1/base'), target('/a')), '/base/a');
    assert.equal(upstreamPath(new URL('http://u:1/base/'), target('/')), '/base/');
    assert.equal(upstreamPath(new URL('https://u/base?k=v'), target('/a', '?x=1')), '/base/a?k=v&x=1');
    assert.equal(upstreamPath(new URL('https://u/base?k=v'), target('/a')), '/base/a?k=v');
  });

  test('an empty query adds no "?", and a leading "?" of the joined query is dropped (as URL does)', () => {
    assert.equal(upstreamPath(new URL('http://u'), target('/a', '?')), '/a');
    assert.equal(upstreamPath(new URL('http://u?'), target('/a')), '/a');
    // `url.search = '?x'` keeps one '?': the joined query '?x' goes as 'x'.
    assert.equal(upstreamPath(new URL('http://u'), target('/a', '??x')), '/a?x');
  });

  test('a canonical target goes as it is: what the router and the policy read is what is sent', () => {
    const parsed = parseRequestTarget(`/a{b}/%c3%a9/x?q="'<>&r=%2F`);
    assert.equal(upstreamPath(new URL('http://u'), parsed), parsed.path + parsed.search);
    assert.equal(upstreamPath(new URL('http://u/p/'), parsed), `/p${parsed.path}${parsed.search}`);
  });

  test('the same URL object gives the same answer on every call (its parts are cached per URL)', () => {
    const upstream = new URL('http://u/base?k=v');
    for (let i = 0; i < 3; i++) assert.equal(upstreamPath(upstream, target('/x', '?y')), '/base/x?k=v&y');
  });
});
