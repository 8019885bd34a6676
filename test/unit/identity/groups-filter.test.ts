/**
 * `identity.groups_filter`: a regex or a list of exact names and `*` globs, narrowing only the
 * groups sent upstream.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGroupsFilter } from '../../../src/identity/groups-filter.ts';
import type { Identity } from '../../../src/identity/identity.ts';

const identity = Object.freeze({
  sub: 'alice',
  groups: Object.freeze(['app-admins', 'app-users', 'eng', 'sales.eu', 'salesXeu']),
  roles: Object.freeze(['admin']),
  authType: 'session',
}) as unknown as Identity;

describe('compileGroupsFilter', () => {
  it('no filter keeps the very same identity', () => {
    assert.equal(compileGroupsFilter(undefined).apply(identity), identity);
  });

  it('a regex keeps the groups it matches (unanchored)', () => {
    const out = compileGroupsFilter('^app-').apply(identity);
    assert.deepEqual(out.groups, ['app-admins', 'app-users']);
    assert.deepEqual(out.roles, ['admin'], 'roles are untouched');
    assert.equal(identity.groups.length, 5, 'the original is untouched');
  });

  it('a list keeps exact names and globs, with regex characters taken literally', () => {
    const f = compileGroupsFilter(['eng', 'sales.*', 'app-*-x']);
    assert.deepEqual(f.apply(identity).groups, ['eng', 'sales.eu']);
    assert.equal(f.apply(identity), f.apply(identity), 'filtered once per frozen identity');
  });

  it('a filter that keeps everything returns the same identity', () => {
    const f = compileGroupsFilter(['*']);
    assert.equal(f.apply(identity), identity);
  });
});
