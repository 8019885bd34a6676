/**
 * The hot path of authorization: `decide` for a compiled policy, run on every request.
 * Also role mapping + identity building, which runs once per session unseal / token verify
 * (cached by the callers), for scale.
 *
 * Run: node_modules/.bin/node bench/micro/policy.bench.ts
 */
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { policySchema } from '../../src/config/schema.ts';
import { compilePolicy } from '../../src/policy/compile-policy.ts';
import { identityFromClaims } from '../../src/policy/identity-from-claims.ts';
import { createRoleMapper } from '../../src/policy/roles.ts';

const mapper = createRoleMapper({
  claims: ['groups', 'roles', 'realm_access.roles'],
  map: { 'Okta-Admins': 'admin', Engineering: ['developer', 'viewer'], Support: 'viewer' },
});

const claims = {
  iss: 'https://idp.example.com',
  sub: '00u1abcd',
  email: 'ann@example.com',
  email_verified: true,
  name: 'Ann Example',
  groups: ['Everyone', 'Engineering', 'Berlin', 'oncall', 'vpn-users'],
  realm_access: { roles: ['offline_access', 'uma_authorization'] },
  tier: 'gold',
};
const identity = identityFromClaims(claims, { authType: 'session', mapper, expiresAt: 2_000_000_000 });

const typical = compilePolicy(
  policySchema.parse({
    deny: [{ groups: ['Contractors', 'Suspended'] }],
    allow: [
      { roles: ['admin'] },
      { roles: ['developer'], email_domains: ['example.com'] },
      { claims: { tier: ['gold', 'platinum'] }, auth_types: ['session'] },
    ],
  }),
  { enforce: true, mapper },
);
const noMatch = compilePolicy(
  policySchema.parse({ deny: [{ emails: ['mallory@example.com'] }], allow: [{ roles: ['admin'] }] }),
  { enforce: true, mapper },
);

summary(() => {
  group('decide', () => {
    bench('typical identity, allow[1] (deny checked first)', () => do_not_optimize(typical.decide(identity)));
    bench('no rule matched', () => do_not_optimize(noMatch.decide(identity)));
    bench('anonymous → login', () => do_not_optimize(typical.decide(undefined)));
  });
});

group('identity', () => {
  bench('identityFromClaims (map + validate + freeze)', () =>
    do_not_optimize(identityFromClaims(claims, { authType: 'session', mapper, expiresAt: 2_000_000_000 })),
  );
});

await run();
