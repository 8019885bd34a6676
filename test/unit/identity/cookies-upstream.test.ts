import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOwnCookieMatcher, stripOwnCookies } from '../../../src/identity/cookies-upstream.ts';

const isOwn = createOwnCookieMatcher('gatehouse');

describe('createOwnCookieMatcher', () => {
  it('matches the session, its chunks, login cookies and their __Host-/__Secure- forms', () => {
    for (const name of [
      'gatehouse',
      'gatehouse.0',
      'gatehouse.12',
      'gatehouse_login',
      'gatehouse_login_3f9a',
      '__Host-gatehouse',
      '__Host-gatehouse.1',
      '__Host-gatehouse_login_abc',
      '__Secure-gatehouse',
      '__Secure-gatehouse.0',
    ]) {
      assert.equal(isOwn(name), true, name);
    }
  });

  it("does not match other applications' cookies", () => {
    for (const name of [
      'gatehouse2',
      'Gatehouse',
      'other',
      'gatehouse.',
      'gatehouse.x',
      'gatehouse.1a',
      'gatehouse-login',
      'xgatehouse',
      '__Host-other',
      '__host-gatehouse',
      '__Host-__Host-gatehouse',
      '',
    ]) {
      assert.equal(isOwn(name), false, name);
    }
  });

  it('refuses a cookie name the config could not hold', () => {
    assert.throws(() => createOwnCookieMatcher('bad name'), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });
});

describe('stripOwnCookies', () => {
  it('removes the session and its chunks and keeps the others byte for byte, in order', () => {
    assert.equal(
      stripOwnCookies('a=1; gatehouse.0=xx; b="q;uoted"; gatehouse.1=yy; c=3', isOwn),
      'a=1; b="q;uoted"; c=3',
    );
    assert.equal(stripOwnCookies('gatehouse=s; other=1;gatehouse2=2', isOwn), 'other=1;gatehouse2=2');
    assert.equal(stripOwnCookies('x=1;  y = 2 ;gatehouse_login_ab=z', isOwn), 'x=1;  y = 2 ');
  });

  it('removes login cookies and prefixed variants', () => {
    assert.equal(stripOwnCookies('__Host-gatehouse_login_1=a; k=v; __Host-gatehouse.0=b', isOwn), 'k=v');
  });

  it('treats spaces around a name the way cookie parsers do', () => {
    assert.equal(stripOwnCookies('k=v;   gatehouse =forged', isOwn), 'k=v');
  });

  it('returns undefined when nothing remains or there was nothing', () => {
    assert.equal(stripOwnCookies('gatehouse=a; gatehouse.0=b', isOwn), undefined);
    assert.equal(stripOwnCookies(undefined, isOwn), undefined);
    assert.equal(stripOwnCookies('', isOwn), undefined);
  });

  it('returns the header unchanged when it holds none of ours', () => {
    const header = 'gatehouse2=a;other=b;  nameless ;c=';
    assert.equal(stripOwnCookies(header, isOwn), header);
  });
});
