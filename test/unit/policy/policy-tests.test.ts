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
