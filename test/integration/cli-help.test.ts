/**
 * issue-20: the CLI's help, usage errors, `check` and `explain` as a person reads them – the
 * real command as a child process, its output pinned, its exit codes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMMANDS } from '../../src/cli/commands.ts';
import { cliMarkdown } from '../../src/cli/help.ts';

const CLI = new URL('../../cmd/gatehouse.ts', import.meta.url).pathname;

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-cli-')), 'gatehouse.yaml');
  writeFileSync(file, text);
  return file;
}

describe('issue-20: gatehouse help', () => {
  it('lists every command, and prints each one with options, an example and exit codes', () => {
    const overview = run(['help']);
    assert.equal(overview.code, 0);
    for (const c of COMMANDS) assert.match(overview.out, new RegExp(`^  ${c.name} `, 'm'));
    for (const c of COMMANDS) {
      for (const args of [
        ['help', c.name],
        [c.name, '--help'],
        [c.name, '-h'],
      ]) {
        const r = run(args);
        assert.equal(r.code, 0, args.join(' '));
        assert.match(r.out, new RegExp(`^Usage: gatehouse ${c.name}`), args.join(' '));
        assert.match(r.out, /\nOptions:\n {2}/);
        assert.match(r.out, new RegExp(`\\nExamples:\\n {2}(\\S+=\\S+ )?gatehouse ${c.name}`));
        assert.match(r.out, /\nExit codes:\n {2}0 {2}/);
      }
    }
    assert.match(run(['help', 'explain']).out, /^ {2}3 {2}with --exit-code/m);
  });

  it('refuses an unknown option, command or missing value in its own words, exit 2', () => {
    const foo = run(['check', '--foo']);
    assert.equal(foo.code, 2);
    assert.match(
      foo.err,
      /^gatehouse: unknown option --foo for `gatehouse check`; see `gatehouse help check`\n/,
    );
    assert.doesNotMatch(foo.err, /ERR_PARSE_ARGS|Unknown option '--foo'/);
    assert.match(foo.err, /Usage: gatehouse check/, 'the command’s help follows');
    const url = run(['check', '--url', 'x']);
    assert.match(url.err, /unknown option --url for `gatehouse check`/);
    const value = run(['explain', '--url']);
    assert.equal(value.code, 2);
    assert.match(value.err, /^gatehouse: option --url needs a value \(URL\) for `gatehouse explain`/);
    const noUrl = run(['explain', '-c', 'x.yaml']);
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.err, /`gatehouse explain` needs --url URL/);
    const cmd = run(['frobnicate']);
    assert.equal(cmd.code, 2);
    assert.match(cmd.err, /^gatehouse: unknown command "frobnicate"; the commands are serve, check/);
    assert.equal(run(['help', 'nope']).code, 2);
    assert.equal(run(['keygen', '--json=1']).code, 2);
  });

  it('README’s CLI section is the command table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = /<!-- cli:start -->\n([\s\S]*?)<!-- cli:end -->/.exec(readme)?.[1];
    assert.equal(section, cliMarkdown(), 'regenerate README between the cli markers from cliMarkdown()');
  });
});

describe('issue-20: gatehouse check', () => {
  it('reports every problem in one pass, with did-you-mean, missing keys and the known roles', () => {
    const file = configFile(`server:
  listen: 127.0.0.1:8080
  publc_url: https://app.example.com
roles:
  map: { Okta-Admins: admin, Eng: engineer }
bearer:
  - { issuer: https://idp.example.com, audiences: [api] }
routes:
  - name: a
    upstream: ftp://x
    policy: public
  - name: b
    upstream: http://127.0.0.1:1
  - name: c
    upstream: http://127.0.0.1:1
    policy: { allow: [ { roles: [admn] } ] }
`);
    const r = run(['check', '-c', file]);
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      [
        `${file}:3:3 server.publc_url: unknown key "publc_url" – did you mean "public_url"?`,
        `${file}:10:15 routes[0].upstream: must be an absolute http(s) URL`,
        `${file}:12:5 routes[1].policy: missing required key "policy"`,
        `${file}:16:34 routes[2].policy.allow[0].roles[0]: unknown role "admn" – roles come from roles.map; the known roles are admin, engineer`,
        '4 problem(s) found; the config was not accepted.',
        '',
      ].join('\n'),
    );
  });

  it('says plainly that the file is missing and what to do', () => {
    const r = run(['check', '-c', '/nonexistent/gatehouse.yaml']);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /^gatehouse: file not found: \/nonexistent\/gatehouse\.yaml — create it .* or pass --config FILE/,
    );
  });

  it('--skip-secrets skips absent secret files and says so; an inline client secret is a warning', () => {
    const text = `server: { public_url: https://app.example.com }
oidc: { issuer: https://idp.example.com, client_id: gh, client_secret: inline-secret-value }
session: { secrets: ["\${file:/nonexistent/cookie-secret}"] }
routes:
  - { name: a, upstream: http://127.0.0.1:1, policy: { allow: [ { authenticated: true } ] } }
`;
    const file = configFile(text);
    const strict = run(['check', '-c', file]);
    assert.equal(strict.code, 1);
    assert.match(
      strict.err,
      /session\.secrets\[0\]: cannot read file "\/nonexistent\/cookie-secret" \(ENOENT\)/,
    );
    const ci = run(['check', '-c', file, '--skip-secrets']);
    assert.equal(ci.code, 0, ci.err);
    assert.equal(
      ci.out,
      [
        'skipped (--skip-secrets): session.secrets[0] reads /nonexistent/cookie-secret, which was not read or checked',
        `${file}: OK – 1 route(s), 0 bearer issuer(s), browser login on, 0 policy test(s) passed, 1 secret file(s) skipped`,
        '',
      ].join('\n'),
    );
    assert.match(
      ci.err,
      new RegExp(`^${file}:2:\\d+ oidc\\.client_secret: warning: the client secret is written in the config`),
    );
    assert.doesNotMatch(ci.err + ci.out, /inline-secret-value/, 'the secret is never echoed');
  });
});

describe('issue-20: gatehouse explain', () => {
  const file = () =>
    configFile(`bearer:
  - { issuer: https://idp.example.com, audiences: [api] }
roles:
  claims: [groups]
  map: { admins: admin, eng: engineer }
routes:
  - name: admin
    match: { host: app.example.com, path: /admin }
    upstream: http://127.0.0.1:9000
    policy: { allow: [ { roles: [admin] } ] }
`);

  it('names the rule compared, what was missing and the unmapped groups; --exit-code makes deny exit 3', () => {
    const f = file();
    const args = [
      'explain',
      '-c',
      f,
      '--url',
      'https://app.example.com/admin',
      '--claims',
      '{"groups":["eng","contractors"]}',
    ];
    const r = run(args);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      [
        'route: admin',
        'upstream: http://127.0.0.1:9000/',
        'decision: deny',
        'reason: no_rule_matched',
        'groups: eng,contractors',
        'roles: engineer',
        'unmapped_groups: contractors (no roles.map entry: they give no role)',
        'check: allow[0] no (roles: no)',
        'missing: allow[0] needs roles [admin]; you have [engineer]',
        '',
        '',
      ].join('\n'),
    );
    assert.equal(run([...args, '--exit-code']).code, 3);
    const allowed = run([
      'explain',
      '-c',
      f,
      '--url',
      'https://app.example.com/admin',
      '--claims',
      '{"groups":["admins"]}',
      '--exit-code',
    ]);
    assert.equal(allowed.code, 0);
  });

  it('lists the candidate routes when no route matches', () => {
    const r = run(['explain', '-c', file(), '--url', 'https://other.example.com/admin', '--exit-code']);
    assert.equal(r.code, 3);
    assert.match(r.out, /^decision: no_route$/m);
    assert.match(r.out, /^candidate: admin: host app\.example\.com, path \/admin$/m);
  });
});
