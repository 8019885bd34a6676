import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/config/schema.ts';
import { createRoleMapper, MAX_GROUPS } from '../../../src/policy/roles.ts';

function rolesConfig(roles: unknown) {
  return configSchema.parse({
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', policy: 'public' }],
    roles,
  }).roles;
}

describe('createRoleMapper', () => {
  it('defaults to the groups and roles claims', () => {
    const mapper = createRoleMapper(rolesConfig(undefined));
    assert.deepEqual(mapper.map({ groups: ['a'], roles: ['b'] }), { groups: ['a', 'b'], roles: [] });
  });

  it('unions every path, deduplicated, in first-seen order', () => {
    const mapper = createRoleMapper(
      rolesConfig({ claims: ['groups', 'cognito:groups', 'realm_access.roles'] }),
    );
    const out = mapper.map({
      groups: ['x', 'y', 'x'],
      'cognito:groups': ['y', 'z'],
      realm_access: { roles: 'w' },
    });
    assert.deepEqual(out.groups, ['x', 'y', 'z', 'w']);
  });

  it('maps groups to roles through string and list values', () => {
    const mapper = createRoleMapper(
      rolesConfig({ map: { 'Okta-Admins': 'admin', Editors: ['editor', 'viewer'], Viewers: 'viewer' } }),
    );
    assert.deepEqual(mapper.map({ groups: ['Okta-Admins', 'Editors', 'Viewers', 'Other'] }).roles, [
      'admin',
      'editor',
      'viewer',
    ]);
    assert.deepEqual([...mapper.knownRoles].sort(), ['admin', 'editor', 'viewer']);
  });

  it('maps exactly: case and substrings do not count', () => {
    const mapper = createRoleMapper(rolesConfig({ map: { admins: 'admin' } }));
    assert.deepEqual(mapper.map({ groups: ['Admins', 'admin', 'admins-x', ' admins'] }).roles, []);
  });

  it('does not map prototype names', () => {
    const mapper = createRoleMapper(rolesConfig({ map: { 'Okta-Admins': 'admin' } }));
    const out = mapper.map({ groups: ['__proto__', 'toString', 'constructor', 'hasOwnProperty'] });
    assert.deepEqual(out.roles, []);
    assert.deepEqual(out.groups, ['__proto__', 'toString', 'constructor', 'hasOwnProperty']);
  });

  it('bounds the number of groups across all paths', () => {
    const mapper = createRoleMapper(rolesConfig({ claims: ['a', 'b'], map: { late: 'admin' } }));
    const a = Array.from({ length: MAX_GROUPS }, (_, i) => `a${i}`);
    const out = mapper.map({ a, b: ['late'] });
    assert.equal(out.groups.length, MAX_GROUPS);
    assert.deepEqual(out.roles, []);
  });

  it('ignores non-string claim values', () => {
    const mapper = createRoleMapper(rolesConfig({ map: { '1': 'one' } }));
    assert.deepEqual(mapper.map({ groups: [1, { '1': 1 }, null] }), { groups: [], roles: [] });
    assert.deepEqual(mapper.map({ groups: 1 }), { groups: [], roles: [] });
  });
});
