/**
 * Workload identity claims: paths to claim names with dots in them (`kubernetes.io`, quoted
 * segments) and the `kubernetes` claims mapper.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ruleSchema } from '../../../src/config/schema.ts';
import { claimsMapperPreset, kubernetesGroups } from '../../../src/policy/claim-mappers.ts';
import { compileClaimPath, parseClaimPath, readClaimPath } from '../../../src/policy/claims.ts';
import { compileClaims } from '../../../src/policy/criteria/claims.ts';
import { identityFromClaims } from '../../../src/policy/identity-from-claims.ts';
import { createRoleMapper } from '../../../src/policy/roles.ts';

/** The payload of a projected service-account token, as the API server issues it. */
function serviceAccountClaims(namespace: string, name: string): Record<string, unknown> {
  return {
    aud: ['gatehouse'],
    exp: 2_000_000_000,
    iat: 1_999_996_400,
    nbf: 1_999_996_400,
    iss: 'https://kubernetes.default.svc.cluster.local',
    jti: '6a1c3c0e-2f43-4c1e-9a53-1f7d3a0c9b11',
    'kubernetes.io': {
      namespace,
      node: { name: 'worker-1', uid: '517eb86e-b863-451b-bf70-86cb61439a3a' },
      pod: { name: `${name}-7d9f8-abcde`, uid: '0d8b260e-ef0e-45fb-be8e-ff44f97722e8' },
      serviceaccount: { name, uid: 'e6a8680e-d103-4cce-80ea-03acbbeacf7d' },
      warnafter: 1_999_999_999,
    },
    sub: `system:serviceaccount:${namespace}:${name}`,
  };
}

const plain = createRoleMapper({ claims: ['groups'], map: {} });
const who = (claims: Record<string, unknown>, mapper = plain) =>
  identityFromClaims(claims, { authType: 'bearer', mapper, expiresAt: 2_000_000_000 });

describe('claim paths with dotted names', () => {
  it('splits at dots; a quoted segment is one name; kubernetes.io is one name', () => {
    assert.deepEqual(parseClaimPath('realm_access.roles'), ['realm_access', 'roles']);
    assert.deepEqual(parseClaimPath('"kubernetes.io".namespace'), ['kubernetes.io', 'namespace']);
    assert.deepEqual(parseClaimPath('kubernetes.io.namespace'), ['kubernetes.io', 'namespace']);
    assert.deepEqual(parseClaimPath('kubernetes.io.serviceaccount.name'), [
      'kubernetes.io',
      'serviceaccount',
      'name',
    ]);
    assert.deepEqual(parseClaimPath('"https://example.com/roles"'), ['https://example.com/roles']);
    assert.deepEqual(parseClaimPath('kubernetes."io".x'), ['kubernetes', 'io', 'x'], 'quoting opts out');
    assert.deepEqual(parseClaimPath('cognito:groups'), ['cognito:groups']);
  });

  it('refuses malformed paths', () => {
    for (const bad of [
      '',
      'a..b',
      '.a',
      'a.',
      '"a',
      '"a"b',
      'a"b',
      '""',
      'a b',
      'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q',
    ]) {
      assert.equal(parseClaimPath(bad), undefined, bad);
      assert.throws(() => compileClaimPath(bad), { code: 'ERR_INVALID_ARG_VALUE' }, bad);
      assert.equal(ruleSchema.safeParse({ claims: { [bad]: ['x'] } }).success, false, bad);
    }
    assert.equal(ruleSchema.safeParse({ claims: { '"kubernetes.io".namespace': ['x'] } }).success, true);
  });

  it('kubernetes.io.namespace reads the kubernetes.io claim and never a nested look-alike', () => {
    const c = compileClaims({ 'kubernetes.io.namespace': ['prod'] });
    assert.equal(c(who(serviceAccountClaims('prod', 'orders'))), true);
    assert.equal(c(who(serviceAccountClaims('dev', 'orders'))), false);
    // Another issuer's token shaped to spell the same path through other claims: not read.
    const lookAlike = { sub: 'x', kubernetes: { io: { namespace: 'prod' } } };
    assert.equal(c(who(lookAlike)), false);
    const flat = { sub: 'x', 'kubernetes.io.namespace': 'prod' };
    assert.equal(c(who(flat)), false, 'a flat claim named like the whole path is another claim');
    // Who does want the nested reading quotes it, and gets only that.
    const nested = compileClaims({ 'kubernetes."io".namespace': ['prod'] });
    assert.equal(nested(who(lookAlike)), true);
    assert.equal(nested(who(serviceAccountClaims('prod', 'orders'))), false);
  });

  it('role claim paths read quoted names too', () => {
    const claims = { 'https://example.com/groups': ['ops'], sub: 'u' };
    assert.deepEqual(readClaimPath(claims, '"https://example.com/groups"'), ['ops']);
    const mapper = createRoleMapper({ claims: ['"https://example.com/groups"'], map: { ops: 'admin' } });
    assert.deepEqual(mapper.map(claims), { groups: ['ops'], roles: ['admin'] });
  });
});

describe('claims_mapper: kubernetes', () => {
  const preset = claimsMapperPreset('kubernetes', { clientIds: [] });
  const mapper = createRoleMapper(
    { claims: [], map: { 'system:serviceaccounts:prod': 'prod-workload' } },
    preset,
  );

  it('gives the groups Kubernetes RBAC gives a service account', () => {
    const id = who(serviceAccountClaims('prod', 'orders'), mapper);
    assert.deepEqual(id.groups, ['system:serviceaccounts', 'system:serviceaccounts:prod']);
    assert.deepEqual(id.roles, ['prod-workload']);
    assert.equal(id.sub, 'system:serviceaccount:prod:orders');
    assert.ok(mapper.claimNames.has('kubernetes.io'), 'a session would keep the claim');
  });

  it('gives nothing when the claims disagree or are not a service account', () => {
    const mismatch = { ...serviceAccountClaims('prod', 'orders'), sub: 'system:serviceaccount:dev:orders' };
    assert.deepEqual(kubernetesGroups(mismatch), []);
    const badNs = serviceAccountClaims('Prod_1', 'orders');
    assert.deepEqual(kubernetesGroups(badNs), []);
    assert.deepEqual(kubernetesGroups({ sub: 'system:serviceaccount:prod:orders' }), []);
    assert.deepEqual(kubernetesGroups({ 'kubernetes.io': 'prod', sub: 'x' }), []);
    const inherited = JSON.parse(
      '{"sub":"system:serviceaccount:prod:a","kubernetes.io":{"__proto__":{"namespace":"prod"}}}',
    );
    assert.deepEqual(kubernetesGroups(inherited), []);
  });
});
