/**
 * Token claims shaped like what real IdPs issue, mapped to roles and decided by a policy:
 * the paths each IdP uses are config, the engine must read every one exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policySchema } from '../../../src/config/schema.ts';
import { compilePolicy } from '../../../src/policy/compile-policy.ts';
import { identityFromClaims } from '../../../src/policy/identity-from-claims.ts';
import { createRoleMapper } from '../../../src/policy/roles.ts';

const ENTRA_ADMIN_GROUP = '5f2c1b9e-6a41-4c3b-9d8e-0a1b2c3d4e5f';
const mapper = createRoleMapper({
  claims: ['groups', 'roles', 'cognito:groups', 'realm_access.roles', 'resource_access.gatehouse.roles'],
  map: {
    'Okta-Admins': 'admin',
    'pool-admins': 'admin',
    'realm-admin': 'admin',
    'gh-editor': 'editor',
    [ENTRA_ADMIN_GROUP]: 'admin',
    'Orders.Write': 'editor',
  },
});
const policy = compilePolicy(policySchema.parse({ allow: [{ roles: ['admin'] }, { roles: ['editor'] }] }), {
  enforce: true,
  mapper,
});

function decide(claims: Record<string, unknown>, authType: 'session' | 'bearer' = 'bearer') {
  const identity = identityFromClaims(claims, { authType, mapper, expiresAt: 2_000_000_000 });
  return { identity, decision: policy.decide(identity) };
}

describe('IdP-shaped claims', () => {
  it('Okta: groups array', () => {
    const { identity, decision } = decide({
      iss: 'https://dev-1.okta.com/oauth2/default',
      sub: '00u1abcd',
      cid: '0oa1client',
      scp: ['openid'],
      groups: ['Everyone', 'Okta-Admins'],
      email: 'ann@example.com',
    });
    assert.deepEqual(identity.groups, ['Everyone', 'Okta-Admins']);
    assert.deepEqual(identity.roles, ['admin']);
    assert.equal(decision.outcome, 'allow');
    assert.equal(decide({ sub: 'x', groups: ['Everyone', 'Okta-Admin'] }).decision.outcome, 'deny');
  });

  it('Cognito: cognito:groups, username and client_id', () => {
    const { identity, decision } = decide({
      iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc',
      sub: 'a1b2',
      token_use: 'access',
      client_id: '7abc',
      username: 'ann',
      'cognito:groups': ['pool-admins'],
      email_verified: 'false',
      email: 'ann@example.com',
    });
    assert.deepEqual(identity.roles, ['admin']);
    assert.equal(identity.clientId, '7abc');
    assert.equal(identity.preferredUsername, 'ann');
    assert.equal(identity.email, undefined, 'Cognito string "false" is not verified');
    assert.equal(decision.outcome, 'allow');
  });

  it('Keycloak: realm_access.roles and resource_access.<client>.roles', () => {
    const realm = decide({
      sub: 'kc-1',
      azp: 'gatehouse',
      realm_access: { roles: ['offline_access', 'realm-admin'] },
      resource_access: { account: { roles: ['manage-account'] } },
    });
    assert.deepEqual(realm.identity.groups, ['offline_access', 'realm-admin']);
    assert.deepEqual(realm.identity.roles, ['admin']);
    assert.equal(realm.identity.clientId, 'gatehouse');

    const client = decide({
      sub: 'kc-2',
      realm_access: { roles: ['offline_access'] },
      resource_access: { gatehouse: { roles: ['gh-editor'] }, other: { roles: ['realm-admin'] } },
    });
    assert.deepEqual(client.identity.roles, ['editor']);
    assert.equal(client.decision.rule, 'allow[1]');

    const otherClient = decide({ sub: 'kc-3', resource_access: { other: { roles: ['realm-admin'] } } });
    assert.equal(otherClient.decision.outcome, 'deny', 'roles of another client do not count');
  });

  it('Entra ID: roles and groups arrays of GUIDs', () => {
    const { identity, decision } = decide({
      iss: 'https://login.microsoftonline.com/tid/v2.0',
      sub: 'AAAAAAAA',
      oid: '11111111-2222-3333-4444-555555555555',
      azp: 'app-id',
      roles: ['Orders.Write'],
      groups: ['0f0f0f0f-0000-0000-0000-000000000000', ENTRA_ADMIN_GROUP],
      preferred_username: 'ann@contoso.com',
    });
    assert.deepEqual(identity.roles, ['admin', 'editor']);
    assert.equal(decision.rule, 'allow[0]');
    const upper = decide({ sub: 'x', groups: [ENTRA_ADMIN_GROUP.toUpperCase()] });
    assert.equal(upper.decision.outcome, 'deny', 'GUIDs compare exactly');
  });

  it('Entra ID group overage: no groups claim, so no roles', () => {
    const { identity, decision } = decide({
      sub: 'x',
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } },
    });
    assert.deepEqual(identity.groups, []);
    assert.equal(decision.reason, 'no_rule_matched');
  });
});
