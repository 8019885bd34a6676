import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/config/schema.ts';
import { runPolicyTests } from '../../../src/policy/policy-tests.ts';

function configWith(tests: unknown[]) {
  return configSchema.parse({
    roles: { map: { 'Okta-Admins': 'admin' } },
    routes: [
      {
        name: 'admin',
        match: { host: 'app.example.com', path: '/admin' },
        upstream: 'http://127.0.0.1:9000',
        policy: { allow: [{ roles: ['admin'] }] },
      },
      {
        name: 'beta',
        match: { host: 'app.example.com', path: '/beta' },
        upstream: 'http://127.0.0.1:9000',
        enforce: false,
        policy: { allow: [{ roles: ['admin'] }] },
      },
    ],
    tests,
  });
}

describe('runPolicyTests', () => {
  it('passes when every expectation holds', () => {
    const report = runPolicyTests(
      configWith([
        { url: 'https://app.example.com/admin', claims: { groups: ['Okta-Admins'] }, expect: 'allow' },
        { url: 'https://app.example.com/admin', claims: { groups: ['Staff'] }, expect: 'deny' },
        { url: 'https://app.example.com/admin', expect: 'login' },
        { url: 'https://other.example.com/', expect: 'deny' },
      ]),
    );
    assert.deepEqual(report, { passed: 4, failures: [] });
  });

  it('reports each failure with its index, outcomes and reason', () => {
    const report = runPolicyTests(
      configWith([
        { url: 'https://app.example.com/admin', claims: { groups: ['Okta-Admins'] }, expect: 'allow' },
        { url: 'https://app.example.com/admin', claims: { groups: ['Okta-Admins-2'] }, expect: 'allow' },
        { url: 'https://other.example.com/', expect: 'allow' },
        { url: 'https://app.example.com/admin', expect: 'deny' },
      ]),
    );
    assert.equal(report.passed, 1);
    assert.deepEqual(report.failures, [
      {
        index: 1,
        expected: 'allow',
        actual: 'deny',
        reason: 'no_rule_matched',
        url: 'https://app.example.com/admin',
      },
      {
        index: 2,
        expected: 'allow',
        actual: 'deny',
        reason: 'route_not_found',
        url: 'https://other.example.com/',
      },
      {
        index: 3,
        expected: 'deny',
        actual: 'login',
        reason: 'no_credentials',
        url: 'https://app.example.com/admin',
      },
    ]);
  });

  it('tests a dry-run route on what its policy would enforce', () => {
    const report = runPolicyTests(
      configWith([
        { url: 'https://app.example.com/beta', claims: { groups: ['Staff'] }, expect: 'deny' },
        { url: 'https://app.example.com/beta', claims: { groups: ['Staff'] }, expect: 'allow' },
      ]),
    );
    assert.equal(report.passed, 1);
    assert.deepEqual(report.failures[0], {
      index: 1,
      expected: 'allow',
      actual: 'deny',
      reason: 'no_rule_matched',
      url: 'https://app.example.com/beta',
    });
  });

  it('counts a request the proxy refuses as a deny with its code', () => {
    const report = runPolicyTests(
      configWith([
        { url: 'https://app.example.com/admin/%2e%2e/%2e%2e/x', expect: 'allow' },
        {
          url: 'https://app.example.com/admin',
          claims: { sub: 42, groups: ['Okta-Admins'] },
          expect: 'allow',
        },
      ]),
    );
    assert.equal(report.passed, 0);
    assert.deepEqual(
      report.failures.map((f) => [f.actual, f.reason]),
      [
        ['deny', 'bad_request'],
        ['deny', 'missing_claim'],
      ],
    );
  });

  it('an empty test list passes trivially', () => {
    assert.deepEqual(runPolicyTests(configWith([])), { passed: 0, failures: [] });
  });
});

describe('runPolicyTests: machine callers', () => {
  const routes = [
    {
      name: 'api',
      match: { host: 'api.example.com', path: '/' },
      upstream: 'http://127.0.0.1:9000',
      auth: ['bearer'],
      policy: {
        allow: [
          { clients: ['ci'], scopes: ['deploy'], source_ips: ['10.0.0.0/8'] },
          { auth_types: ['mtls'], claims: { sub: ['system:serviceaccount:prod:orders'] } },
        ],
      },
    },
  ];
  const parse = (tests: unknown[]) => configSchema.parse({ routes, tests });

  it('client_id, scopes, source_ip and auth_type dpop|mtls decide as the proxy would', () => {
    const report = runPolicyTests(
      parse([
        {
          url: 'https://api.example.com/',
          auth_type: 'bearer',
          client_id: 'ci',
          scopes: ['deploy'],
          source_ip: '10.0.0.9',
          expect: 'allow',
        },
        {
          url: 'https://api.example.com/',
          auth_type: 'bearer',
          client_id: 'ci',
          scopes: ['deploy'],
          source_ip: '192.0.2.1',
          expect: 'deny',
        },
        {
          url: 'https://api.example.com/',
          auth_type: 'bearer',
          client_id: 'ci',
          source_ip: '10.0.0.9',
          expect: 'deny',
        },
        {
          url: 'https://api.example.com/',
          auth_type: 'mtls',
          claims: { sub: 'system:serviceaccount:prod:orders' },
          expect: 'allow',
        },
        {
          url: 'https://api.example.com/',
          auth_type: 'bearer',
          claims: { sub: 'system:serviceaccount:prod:orders' },
          expect: 'allow',
        },
      ]),
    );
    assert.equal(report.passed, 4);
    assert.deepEqual(
      report.failures.map((f) => [f.index, f.actual, f.reason]),
      [[4, 'deny', 'no_rule_matched']],
    );
  });

  it('refuses a shorthand beside the claim it stands for, and a source_ip that is a block', () => {
    const bad = (test: Record<string, unknown>) =>
      configSchema.safeParse({
        routes,
        tests: [{ url: 'https://api.example.com/', expect: 'deny', ...test }],
      });
    const paths = (r: ReturnType<typeof bad>) =>
      r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    assert.deepEqual(paths(bad({ client_id: 'a', claims: { client_id: 'b' } })), ['tests.0.client_id']);
    assert.deepEqual(paths(bad({ scopes: ['a'], claims: { scope: 'b' } })), ['tests.0.scopes']);
    assert.deepEqual(paths(bad({ source_ip: '10.0.0.0/8' })), ['tests.0.source_ip']);
    assert.deepEqual(paths(bad({ auth_type: 'jwt' })), ['tests.0.auth_type']);
    assert.equal(
      bad({ client_id: 'a', scopes: ['x'], source_ip: '2001:db8::1', auth_type: 'dpop' }).success,
      true,
    );
  });
});
