import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { originalRequest } from '../../../src/http/original-request.ts';

const from = (headers: Record<string, string>) => () => originalRequest((name) => headers[name]);

describe('originalRequest', () => {
  it('reads whichever description is present', () => {
    assert.equal(from({ 'x-original-uri': '/a/b?x=1' })()?.target.path, '/a/b');
    assert.equal(from({ 'x-forwarded-uri': '/a/b?x=1' })()?.target.search, '?x=1');
    const url = from({ 'x-original-url': 'https://App.Example.com:8443/a/./b?x=1' })();
    assert.deepEqual(
      [url?.target.path, url?.target.search, url?.host],
      ['/a/b', '?x=1', 'app.example.com:8443'],
    );
    assert.equal(from({ 'x-original-url': 'http://app.example.com' })()?.target.path, '/');
    assert.equal(from({})(), undefined);
    assert.equal(from({ 'x-original-uri': '' })(), undefined, 'an empty header describes nothing');
  });

  it('accepts descriptions that agree, and takes the host only from a lone X-Original-URL', () => {
    const both = from({ 'x-original-uri': '/a?x=1', 'x-original-url': 'https://evil.example/a?x=1' })();
    assert.equal(both?.target.path, '/a');
    assert.equal(both?.host, undefined, "beside the proxy's own X-Original-URI, a URL may be the client's");
  });

  it('refuses descriptions that disagree: a client copy never wins over the proxy', () => {
    for (const headers of [
      { 'x-original-url': 'https://app.example.com/admin/secret', 'x-original-uri': '/public/x' },
      { 'x-forwarded-uri': '/admin/secret', 'x-original-uri': '/public/x' },
      { 'x-original-uri': '/a?x=1', 'x-forwarded-uri': '/a?x=2' },
    ] as Record<string, string>[]) {
      assert.throws(from(headers), (err: { code?: string; message?: string }) => {
        assert.equal(err.code, 'bad_request');
        assert.match(String(err.message), /conflicting descriptions/);
        return true;
      });
    }
  });

  it('refuses a malformed URL or host', () => {
    for (const url of ['/relative', 'ftp://x/y', 'https://user@host/x', 'https://ho st/x', 'https:///x']) {
      assert.throws(from({ 'x-original-url': url }), { code: 'bad_request' }, url);
    }
    assert.throws(from({ 'x-original-uri': '/a/..%2fadmin' }), { code: 'bad_request' });
  });
});
