import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLoginCookies } from '../../../src/oidc/login-state.ts';

const cookies = (secure = false) =>
  createLoginCookies({
    cookieName: 'gatehouse',
    secrets: ['login-secret-0123456789abcdefghijklmnop'],
    secure,
    path: '/.gatehouse',
    loginTimeoutMs: 600_000,
  });

describe('login cookies', () => {
  it('names one cookie per attempt; state names its cookie', () => {
    const c = cookies();
    const id = c.newId();
    assert.match(id, /^[0-9a-f]{8}$/);
    const state = c.newState(id);
    assert.equal(c.idOf(state), id);
    assert.notEqual(c.newState(id), state);
    for (const bad of [
      null,
      undefined,
      '',
      id,
      `${id}.`,
      `${id}.short`,
      `XYZ12345.${'a'.repeat(32)}`,
      `${id}.${'a'.repeat(32)}\n`,
    ]) {
      assert.equal(c.idOf(bad), undefined, String(bad));
    }
  });

  it('uses __Secure- (not __Host-, which forces Path=/) on https', () => {
    assert.equal(cookies(true).prefix, '__Secure-gatehouse_login_');
    assert.match(
      cookies(true).set('0badf00d', 'v'),
      /^__Secure-gatehouse_login_0badf00d=v; Path=\/\.gatehouse; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/,
    );
  });

  it('lists present login cookies oldest first and seals round-trip; tampering fails', async () => {
    const c = cookies();
    assert.deepEqual(
      c.present('a=1; gatehouse_login_00000001=x; gatehouse_login_zz=y; gatehouse_login_00000002=z'),
      ['gatehouse_login_00000001', 'gatehouse_login_00000002'],
    );
    const state = { provider: 'default', state: 's', nonce: 'n', verifier: 'v', rd: '/', exp: 1 };
    const sealed = await c.seal(state);
    assert.deepEqual(await c.unseal(sealed), state);
    const at = sealed.length - 3;
    const flipped = `${sealed.slice(0, at)}${sealed[at] === 'A' ? 'B' : 'A'}${sealed.slice(at + 1)}`;
    assert.equal(await c.unseal(flipped), undefined);
    assert.equal(await c.unseal(''), undefined);
  });
});
