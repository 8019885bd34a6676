/**
 * The gatehouse command as users run it: a child process, its output and its exit code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const NODE = process.execPath;
const CLI = new URL('../../cmd/gatehouse.ts', import.meta.url).pathname;

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(NODE, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, text);
  return file;
}

const POLICY_CONFIG = `
bearer:
  - issuer: https://idp.example.com
    audiences: [api://x]
roles:
  claims: [groups]
  map: { Okta-Admins: admin }
routes:
  - name: admin
    match: { host: app.example.com, path: /admin }
    upstream: http://127.0.0.1:9000
    policy:
      allow: [ { roles: [admin] } ]
      deny: [ { groups: [Contractors] } ]
  - name: assets
    match: { path: /static }
    upstream: http://127.0.0.1:9000
    policy: public
tests:
  - { url: https://app.example.com/admin, claims: { sub: a, groups: [Okta-Admins] }, expect: allow }
  - { url: https://app.example.com/admin/x, claims: { sub: b, groups: [Okta-Admins, Contractors] }, expect: deny }
  - { url: https://app.example.com/static/app.js, expect: allow }
`;

describe('gatehouse CLI', () => {
  it('prints usage on --help and the version on --version', () => {
    const help = run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /Usage: gatehouse <command>/);
    const version = run(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.out, /^gatehouse \d+\.\d+\.\d+/);
  });

  it('exits 2 with usage on unknown commands and flags', () => {
    for (const args of [['frobnicate'], ['serve', '--bogus'], [], ['explain', '-c', 'x.yaml']]) {
      const r = run(args);
      assert.equal(r.code, 2, `args ${args.join(' ')}`);
      assert.match(r.err, /Usage: gatehouse/);
    }
  });

  it('check prints every problem as FILE:LINE:COL and exits 1', () => {
    const file = configFile(
      `server:\n  listen: 8080\n  bogus: 1\nroutes:\n  - name: a\n    upstream: ftp://x\n    policy: public\n    timeout: soon\n`,
    );
    const r = run(['check', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`${file}:3:3 server\\.bogus: .*bogus`));
    assert.match(r.err, new RegExp(`${file}:6:15 routes\\[0\\]\\.upstream: `));
    assert.match(r.err, new RegExp(`${file}:8:14 routes\\[0\\]\\.timeout: `));
    assert.doesNotMatch(r.err, /at .*\.ts:\d+/, 'no stack trace');
  });

  it('check names a missing env reference', () => {
    const file = configFile(
      `routes:\n  - name: a\n    upstream: \${env:GATEHOUSE_TEST_NOPE}\n    policy: public\n`,
    );
    const r = run(['check', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /:3:\d+ routes\[0\]\.upstream: .*GATEHOUSE_TEST_NOPE/);
  });

  it('check builds what serve would: a bad assertion key is a positioned problem', () => {
    const file = configFile(
      `identity:\n  assertion:\n    key: "{\\"kty\\":\\"oct\\",\\"k\\":\\"AAAA\\"}"\nroutes:\n  - name: a\n    upstream: http://127.0.0.1:1\n    policy: public\n`,
    );
    const r = run(['check', '-c', file]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, new RegExp(`${file}:3:\\d+ identity\\.assertion\\.key: `));
    assert.doesNotMatch(r.err, /AAAA/, 'key material is never echoed');
    assert.doesNotMatch(r.err, /at .*\.ts:\d+/, 'no stack trace');
  });

  it('check runs the policy tests and reports a failing one with its position', () => {
    const ok = configFile(POLICY_CONFIG);
    const pass = run(['check', '-c', ok]);
    assert.equal(pass.code, 0, pass.err);
    assert.match(pass.out, /OK .*3 policy test\(s\) passed/);

    const bad = configFile(POLICY_CONFIG.replace('expect: deny', 'expect: allow'));
    const fail = run(['check', '-c', bad]);
    assert.equal(fail.code, 1);
    assert.match(
      fail.err,
      new RegExp(
        `${bad}:21:\\d+ tests\\[1\\]: policy test failed: .*expected allow, got deny \\(policy_denied\\)`,
      ),
    );
  });

  it('explain prints route, roles, decision, reason and rule without any network', () => {
    const file = configFile(POLICY_CONFIG);
    const r = run([
      'explain',
      '-c',
      file,
      '--url',
      'https://app.example.com/admin/users',
      '--claims',
      '{"sub":"x","groups":["Okta-Admins","Contractors"]}',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^route: admin$/m);
    assert.match(r.out, /^roles: admin$/m);
    assert.match(r.out, /^decision: deny$/m);
    assert.match(r.out, /^reason: policy_denied$/m);
    assert.match(r.out, /^rule: deny\[0\]$/m);
    const json = run(['explain', '-c', file, '--url', 'https://app.example.com/static/a.css', '--json']);
    assert.equal(json.code, 0, json.err);
    const parsed = JSON.parse(json.out) as { route: string; decision: string; reason: string };
    assert.deepEqual([parsed.route, parsed.decision, parsed.reason], ['assets', 'allow', 'public_route']);
  });

  it('explain takes a machine caller: --client-id, --scopes, --source-ip, --auth-type dpop|mtls', () => {
    const file = configFile(`
bearer:
  - issuer: https://idp.example.com
    audiences: [api://x]
routes:
  - name: orders
    match: { path: /orders }
    upstream: http://127.0.0.1:9000
    auth: [bearer]
    policy:
      allow:
        - { clients: [billing], scopes: [orders:read, orders:write], source_ips: [10.0.0.0/8] }
        - { auth_types: [mtls], clients: [batch] }
`);
    const base = ['explain', '-c', file, '--url', 'https://api.example.com/orders'];
    const lacking = run([
      ...base,
      '--auth-type',
      'bearer',
      '--client-id',
      'billing',
      '--scopes',
      'orders:read',
      '--source-ip',
      '10.1.2.3',
    ]);
    assert.equal(lacking.code, 0, lacking.err);
    assert.match(lacking.out, /^reason: insufficient_scope$/m);
    assert.match(lacking.out, /^required_scope: orders:read orders:write$/m);
    assert.match(lacking.out, /^check: allow\[0\] no \(clients: yes, source_ips: yes, scopes: no\)$/m);
    const ok = run([
      ...base,
      '--auth-type',
      'bearer',
      '--client-id',
      'billing',
      '--scopes',
      'orders:read,orders:write',
      '--source-ip',
      '10.1.2.3',
    ]);
    assert.match(ok.out, /^decision: allow$/m);
    const mtls = run([...base, '--auth-type', 'mtls', '--client-id', 'batch', '--json']);
    assert.equal(mtls.code, 0, mtls.err);
    assert.deepEqual(JSON.parse(mtls.out).rule, 'allow[1]');
    for (const bad of [
      ['--auth-type', 'jwt'],
      ['--source-ip', '10.0.0.0/8', '--client-id', 'x'],
    ]) {
      const r = run([...base, ...bad]);
      assert.equal(r.code, 2, bad.join(' '));
      assert.match(r.err, /auth-type|source IP/);
    }
  });

  it('keygen prints a long cookie secret and an ES256 private JWK', () => {
    const r = run(['keygen']);
    assert.equal(r.code, 0);
    const lines = r.out.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(lines[0]!.length >= 43);
    const jwk = JSON.parse(lines[1]!) as Record<string, string>;
    assert.equal(jwk.kty, 'EC');
    assert.equal(jwk.crv, 'P-256');
    assert.ok(jwk.d && jwk.kid);
  });
});
