import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/config/schema.ts';
import { claimsMapperPreset, entraGroupsOverage } from '../../../src/policy/claim-mappers.ts';
import { createIdpDirectory } from '../../../src/policy/idp-directory.ts';
import { createRoleMapper } from '../../../src/policy/roles.ts';

const none = { claims: [], map: { eng: 'engineer', admins: 'admin' } };
const ctx = { clientIds: ['gatehouse', 'api.orders.v1'] };

describe('claims mapper presets', () => {
  it('okta reads groups, cognito reads cognito:groups, and nothing else', () => {
    const okta = createRoleMapper(none, claimsMapperPreset('okta', ctx));
    assert.deepEqual(okta.map({ groups: ['eng'], 'cognito:groups': ['admins'] }), {
      groups: ['eng'],
      roles: ['engineer'],
    });
    const cognito = createRoleMapper(none, claimsMapperPreset('cognito', ctx));
    assert.deepEqual(cognito.map({ groups: ['eng'], 'cognito:groups': ['admins'] }), {
      groups: ['admins'],
      roles: ['admin'],
    });
  });

  it('keycloak reads realm roles, client roles of its own client ids only (dots included), and groups', () => {
    const kc = createRoleMapper(none, claimsMapperPreset('keycloak', ctx));
    const mapped = kc.map({
      realm_access: { roles: ['eng'] },
      resource_access: {
        gatehouse: { roles: ['admins'] },
        'api.orders.v1': { roles: ['orders-writer'] },
        'someone-else': { roles: ['root'] },
      },
      groups: ['/team-a'],
    });
    assert.deepEqual(mapped.groups, ['eng', 'admins', 'orders-writer', '/team-a']);
    assert.deepEqual(mapped.roles, ['engineer', 'admin']);
    assert.ok(!mapped.groups.includes('root'), "another client's roles never count");
    assert.deepEqual([...kc.claimNames].sort(), ['groups', 'realm_access', 'resource_access']);
  });

  it('entra reads roles and groups and reports a groups overage instead of silently no groups', () => {
    const entra = createRoleMapper(none, claimsMapperPreset('entra', ctx));
    assert.deepEqual(entra.map({ roles: ['admins'], groups: ['eng'] }), {
      groups: ['admins', 'eng'],
      roles: ['admin', 'engineer'],
    });
    const overage = entra.map({
      roles: ['eng'],
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } },
    });
    assert.equal(overage.overage, true);
    assert.deepEqual(overage.groups, ['eng']);
    assert.equal(entraGroupsOverage({ hasgroups: true }), true);
    assert.equal(entraGroupsOverage({ hasgroups: 'true' }), false, 'only the boolean the IdP sends');
    assert.equal(entraGroupsOverage({ _claim_names: { other: 'x' } }), false);
    assert.equal(entraGroupsOverage(JSON.parse('{"__proto__": {"groups": 1}}')), false);
    assert.ok(entra.claimNames.has('_claim_names') && entra.claimNames.has('hasgroups'));
    const okta = createRoleMapper(none, claimsMapperPreset('okta', ctx));
    assert.equal(okta.map({ _claim_names: { groups: 'src1' } }).overage, undefined, 'only entra reports it');
  });

  it('auth0 reads the namespaced roles and groups claims', () => {
    const a0 = createRoleMapper(
      none,
      claimsMapperPreset('auth0', { clientIds: [], namespace: 'https://acme.example/' }),
    );
    assert.deepEqual(
      a0.map({
        'https://acme.example/roles': ['admins'],
        'https://acme.example/groups': ['eng'],
        roles: ['x'],
      }),
      { groups: ['admins', 'eng'], roles: ['admin', 'engineer'] },
    );
    assert.deepEqual(a0.map({ 'https://other.example/roles': ['admins'] }).groups, []);
  });
});

describe('createIdpDirectory', () => {
  const config = configSchema.parse({
    server: { public_url: 'https://app.example' },
    oidc: [
      {
        name: 'corp',
        issuer: 'https://kc.example/realms/corp',
        client_id: 'gatehouse',
        client_secret: 's',
        claims_mapper: 'keycloak',
        roles: { map: { 'gh-admin': 'admin' } },
      },
      {
        name: 'partners',
        issuer: 'https://cognito.example/pool',
        client_id: 'p',
        client_secret: 's',
        claims_mapper: 'cognito',
        roles: { map: { 'partner-admins': 'admin' } },
      },
    ],
    session: { secrets: ['x'.repeat(32)] },
    bearer: [
      { issuer: 'https://kc.example/realms/corp', audiences: ['api.deploy'] },
      { issuer: 'https://ci.example', audiences: ['api'], name: 'ci', roles: { claims: ['team'] } },
      { issuer: 'https://other.example', audiences: ['api'] },
    ],
    roles: { claims: ['groups'], map: { ops: 'operator' } },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', policy: 'public' }],
  });
  const idps = createIdpDirectory(config);

  it('normalizes two claim shapes to the same roles, each provider with its own map only', () => {
    const corp = idps.forProvider('corp')!;
    const partners = idps.forProvider('partners')!;
    assert.deepEqual(corp.mapper.map({ realm_access: { roles: ['gh-admin', 'ops'] } }).roles, ['admin']);
    assert.deepEqual(partners.mapper.map({ 'cognito:groups': ['partner-admins'] }).roles, ['admin']);
    assert.deepEqual(
      partners.mapper.map({ 'cognito:groups': ['gh-admin'] }).roles,
      [],
      "corp's map is not partners'",
    );
    // A provider with its own map does not inherit the top-level one: another IdP's admins must
    // not get `operator` by naming a group `ops`.
    assert.deepEqual(partners.mapper.map({ 'cognito:groups': ['ops'] }).roles, []);
    // One without its own map uses the top-level map.
    assert.deepEqual(idps.forIssuer('https://ci.example').mapper.map({ team: ['ops'] }).roles, ['operator']);
  });

  it("gives a provider's bearer issuer that provider's name and mapping, with its audiences as Keycloak clients", () => {
    const entry = idps.forIssuer('https://kc.example/realms/corp');
    assert.equal(entry.name, 'corp');
    assert.equal(entry, idps.forProvider('corp'));
    assert.deepEqual(entry.mapper.map({ resource_access: { 'api.deploy': { roles: ['gh-admin'] } } }).roles, [
      'admin',
    ]);
  });

  it('names a bearer-only issuer by its name, or not at all; unknown issuers get the top-level mapping', () => {
    const ci = idps.forIssuer('https://ci.example');
    assert.equal(ci.name, 'ci');
    assert.deepEqual(ci.mapper.map({ team: ['ops'], groups: ['ops'] }).groups, ['ops']);
    assert.equal(idps.forIssuer('https://other.example').name, undefined);
    assert.equal(idps.forIssuer('https://unknown.example').name, undefined);
    assert.deepEqual(idps.forIssuer('https://unknown.example').mapper.map({ groups: ['ops'] }).roles, [
      'operator',
    ]);
    assert.deepEqual([...idps.names].sort(), ['ci', 'corp', 'partners']);
    assert.deepEqual([...idps.knownRoles].sort(), ['admin', 'operator']);
    assert.deepEqual(idps.providers, [
      { name: 'corp', issuer: 'https://kc.example/realms/corp' },
      { name: 'partners', issuer: 'https://cognito.example/pool' },
    ]);
  });

  it('keeps every claim any mapping reads (sessions must carry them)', () => {
    for (const name of ['realm_access', 'resource_access', 'cognito:groups', 'team', 'groups'])
      assert.ok(idps.claimNames.has(name), name);
  });
});
