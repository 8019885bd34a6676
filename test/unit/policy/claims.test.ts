import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileClaimPath,
  MAX_CLAIM_STRING,
  MAX_CLAIM_VALUES,
  readClaimPath,
  readClaimValue,
} from '../../../src/policy/claims.ts';

describe('readClaimPath', () => {
  const claims = {
    groups: ['a', 'b'],
    single: 'solo',
    'cognito:groups': ['pool-admins'],
    realm_access: { roles: ['offline_access', 'admin'] },
    resource_access: { 'my-client': { roles: ['editor'] }, gatehouse: { roles: 'viewer' } },
    mixed: ['x', 1, true, null, { y: 'z' }, ['nested'], 'w'],
    number: 42,
    object: { a: 'b' },
  };

  it('reads a top-level array of strings', () => {
    assert.deepEqual(readClaimPath(claims, 'groups'), ['a', 'b']);
  });

  it('reads a single string as one value', () => {
    assert.deepEqual(readClaimPath(claims, 'single'), ['solo']);
    assert.deepEqual(readClaimPath(claims, 'resource_access.gatehouse.roles'), ['viewer']);
  });

  it('reads colon keys and dotted paths', () => {
    assert.deepEqual(readClaimPath(claims, 'cognito:groups'), ['pool-admins']);
    assert.deepEqual(readClaimPath(claims, 'realm_access.roles'), ['offline_access', 'admin']);
    assert.deepEqual(readClaimPath(claims, 'resource_access.my-client.roles'), ['editor']);
  });

  it('keeps only string elements of an array', () => {
    assert.deepEqual(readClaimPath(claims, 'mixed'), ['x', 'w']);
  });

  it('reads nothing from numbers, objects, missing paths, or through arrays', () => {
    assert.deepEqual(readClaimPath(claims, 'number'), []);
    assert.deepEqual(readClaimPath(claims, 'object'), []);
    assert.deepEqual(readClaimPath(claims, 'missing'), []);
    assert.deepEqual(readClaimPath(claims, 'realm_access.missing'), []);
    assert.deepEqual(readClaimPath(claims, 'groups.0'), []);
    assert.deepEqual(readClaimPath(claims, 'single.length'), []);
  });

  it('reads nothing for malformed paths', () => {
    assert.deepEqual(readClaimPath({ '': { a: 'x' } }, '.a'), []);
    assert.deepEqual(readClaimPath({ a: { '': { b: 'x' } } }, 'a..b'), []);
    assert.deepEqual(readClaimPath(claims, ''), []);
  });

  it('never reads the prototype chain', () => {
    assert.deepEqual(readClaimPath({}, 'toString'), []);
    assert.deepEqual(readClaimPath({}, 'constructor.name'), []);
    assert.deepEqual(readClaimPath({}, '__proto__'), []);
    const inherited = Object.create({ groups: ['admin'] }) as Record<string, unknown>;
    assert.deepEqual(readClaimPath(inherited, 'groups'), []);
  });

  it('refuses __proto__ / constructor / prototype even as own JSON keys', () => {
    const parsed = JSON.parse(
      '{"__proto__":["admin"],"constructor":["admin"],"a":{"prototype":["admin"]},"b":{"__proto__":{"roles":["admin"]}}}',
    ) as Record<string, unknown>;
    assert.ok(Object.hasOwn(parsed, '__proto__'));
    assert.deepEqual(readClaimPath(parsed, '__proto__'), []);
    assert.deepEqual(readClaimPath(parsed, 'constructor'), []);
    assert.deepEqual(readClaimPath(parsed, 'a.prototype'), []);
    assert.deepEqual(readClaimPath(parsed, 'b.__proto__.roles'), []);
  });

  it('works on null-prototype objects', () => {
    const claims = Object.assign(Object.create(null) as Record<string, unknown>, { groups: ['g'] });
    assert.deepEqual(readClaimPath(claims, 'groups'), ['g']);
  });

  it('bounds huge arrays and skips oversized or empty strings', () => {
    const huge = Array.from({ length: MAX_CLAIM_VALUES + 500 }, (_, i) => `g${i}`);
    const out = readClaimPath({ groups: huge }, 'groups');
    assert.equal(out.length, MAX_CLAIM_VALUES);
    assert.equal(out.at(-1), `g${MAX_CLAIM_VALUES - 1}`);
    const long = 'x'.repeat(MAX_CLAIM_STRING + 1);
    assert.deepEqual(readClaimPath({ groups: [long, '', 'ok'] }, 'groups'), ['ok']);
    assert.deepEqual(readClaimPath({ groups: long }, 'groups'), []);
  });
});

describe('compileClaimPath / readClaimValue', () => {
  it('splits once and reads raw values of any type', () => {
    const path = compileClaimPath('a.b');
    assert.deepEqual(path, ['a', 'b']);
    assert.ok(Object.isFrozen(path));
    assert.equal(readClaimValue({ a: { b: 1 } }, path), 1);
    assert.equal(readClaimValue({ a: { b: false } }, path), false);
    assert.equal(readClaimValue({ a: null }, path), undefined);
    assert.equal(readClaimValue({}, []), undefined);
  });

  it('rejects empty segments as an invalid argument', () => {
    for (const bad of ['', 'a..b', '.a', 'a.']) {
      assert.throws(() => compileClaimPath(bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    }
  });
});
