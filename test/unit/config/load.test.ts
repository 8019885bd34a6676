// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about literal ${env:…} / ${file:…} references

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, parseConfig, redactConfig } from '../../../src/config/load.ts';
import { oidcProviders } from '../../../src/config/providers.ts';
import { ConfigError, type ConfigProblem } from '../../../src/errors.ts';

const MINIMAL = `routes:
  - name: app
    upstream: http://127.0.0.1:9000
    policy: public
`;

const noFiles = (path: string): string => {
  throw Object.assign(new Error(`no ${path}`), { code: 'ENOENT' });
};

function parse(text: string, env: Record<string, string> = {}, readFile = noFiles) {
  return parseConfig(text, 'gh.yaml', { env, readFile });
}

/** The problems a text is refused with; fails the test if it is accepted or throws anything else. */
function problems(
  text: string,
  env: Record<string, string> = {},
  readFile = noFiles,
): readonly ConfigProblem[] {
  try {
    parse(text, env, readFile);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'config_invalid');
    return err.problems;
  }
  assert.fail('the config was accepted');
}

/** `line:col path: message` — compact enough to compare whole lists. */
const brief = (p: ConfigProblem) => `${p.line}:${p.col} ${p.path}: ${p.message}`;

describe('parseConfig', () => {
  it('accepts a minimal config and fills in the defaults', () => {
    const { config, file, secretPaths, fileRefs } = parse(MINIMAL);
    assert.equal(file, 'gh.yaml');
    assert.equal(config.server.listen, '0.0.0.0:8080');
    assert.equal(config.server.endpoints_prefix, '/.gatehouse');
    assert.equal(config.store, 'memory');
    assert.deepEqual(config.bearer, []);
    assert.deepEqual(config.routes[0], {
      name: 'app',
      match: { path: '/' },
      upstream: 'http://127.0.0.1:9000',
      timeout: 30_000,
      connect_timeout: 5_000,
      auth: ['session', 'bearer'],
      policy: 'public',
      enforce: true,
      preserve_host: false,
      resource_metadata: true,
      cors_preflight: 'deny',
    });
    assert.equal(secretPaths.size, 0);
    assert.deepEqual(fileRefs, []);
  });

  it('parses durations into milliseconds', () => {
    const { config } = parse(`${MINIMAL}    timeout: 1.5m\n    connect_timeout: 2\n`);
    assert.equal(config.routes[0]!.timeout, 90_000);
    assert.equal(config.routes[0]!.connect_timeout, 2_000);
  });

  it('deeply freezes the result', () => {
    const loaded = parse(MINIMAL);
    assert.ok(Object.isFrozen(loaded));
    assert.throws(() => {
      (loaded.config.server as { listen: string }).listen = ':1';
    }, TypeError);
    assert.throws(() => {
      (loaded.config.routes as unknown[]).push({});
    }, TypeError);
    assert.throws(() => {
      (loaded.config.routes[0]!.auth as string[])[0] = 'bearer';
    }, TypeError);
    assert.throws(() => {
      (loaded.fileRefs as string[]).push('/x');
    }, TypeError);
  });

  it('points an unknown key at the key itself and names it', () => {
    const found = problems(`server:\n  listen: :8080\n  bogus: 1\n${MINIMAL}`);
    assert.deepEqual(found.map(brief), ['3:3 server.bogus: unknown key "bogus"']);
    assert.equal(found[0]!.file, 'gh.yaml');
  });

  it('reports a wrong type at the value, quoting what was written', () => {
    const found = problems(`${MINIMAL}    enforce: "yes"\n`);
    assert.deepEqual(found.map(brief), ['5:14 routes[0].enforce: expected true or false, got "yes"']);
  });

  it('reports a bad duration', () => {
    const found = problems(`${MINIMAL}    timeout: 5 minutes\n`);
    assert.deepEqual(found.map(brief), [
      '5:14 routes[0].timeout: "5 minutes" is not a duration (use 500ms, 30s, 5m, 1h, 1d)',
    ]);
  });

  it('points a missing required key at its parent', () => {
    const found = problems('routes:\n  - name: app\n    policy: public\n');
    assert.deepEqual(found.map(brief), ['2:5 routes[0].upstream: missing required key "upstream"']);
    assert.deepEqual(problems('server: {}\n').map(brief), ['1:1 routes: missing required key "routes"']);
  });

  it('refuses an empty file and a non-map document', () => {
    assert.deepEqual(problems('').map(brief), ['1:1 : expected a map, got nothing (an empty value)']);
    assert.deepEqual(problems('- a\n').map(brief), ['1:1 : expected a map, got a list']);
  });

  it('unwraps a union to the branch that was meant', () => {
    const found = problems(
      'routes:\n  - name: a\n    upstream: http://a\n    policy: { allow: [ { roles: [] } ], bogus: 1 }\n',
    );
    assert.deepEqual(found.map(brief), [
      '4:33 routes[0].policy.allow[0].roles: must list at least one value',
      '4:41 routes[0].policy.bogus: unknown key "bogus"',
    ]);
    assert.deepEqual(problems(`${MINIMAL.replace('policy: public', 'policy: publik')}`).map(brief), [
      '4:13 routes[0].policy: expected "public" or a map, got "publik"',
    ]);
  });

  it('reports every problem at once, in file order', () => {
    const text = [
      'server:',
      '  listen: [1]',
      '  workers: 0',
      'session:',
      '  secrets: ["${env:COOKIE}"]',
      'routes:',
      '  - name: "a b"',
      '    upstream: ftp://x',
      '    policy: public',
      '    extra: true',
      '',
    ].join('\n');
    assert.deepEqual(problems(text).map(brief), [
      '2:11 server.listen: expected a string or a number, got a list',
      '3:12 server.workers: must be at least 1, got 0',
      '5:13 session.secrets[0]: environment variable "COOKIE" is not set',
      '7:11 routes[0].name: must be 1-64 characters of A-Z a-z 0-9 _ . -',
      '8:15 routes[0].upstream: must be an absolute http(s) URL',
      '10:5 routes[0].extra: unknown key "extra"',
    ]);
  });

  it('positions YAML syntax errors and stops there', () => {
    const found = problems('routes:\n  - name: a\n   upstream: [x\n');
    assert.ok(found.length >= 1);
    for (const p of found) {
      assert.equal(p.file, 'gh.yaml');
      assert.ok(p.line >= 2 && p.line <= 4, brief(p));
    }
  });

  it('hints that a reference inside [ ] must be quoted', () => {
    const found = problems(`session:\n  secrets: [\${file:/run/secrets/cookie}]\n${MINIMAL}`);
    assert.equal(found[0]!.line, 2);
    assert.match(found[0]!.message, /quote a reference/);
  });

  it('does not quote the source line of a syntax error (it may hold a secret)', () => {
    const found = problems('oidc:\n  client_secret: "hunter2-very-secret\n');
    for (const p of found) assert.doesNotMatch(p.message, /hunter2/);
  });

  it('reports a duplicate key at the second occurrence, naming it', () => {
    const found = problems(`${MINIMAL}    timeout: 5s\n    timeout: 6s\n`);
    assert.deepEqual(found.map(brief), ['6:5 routes[0].timeout: duplicate key "timeout" (first on line 5)']);
  });

  it('refuses __proto__, non-string keys and tagged values', () => {
    assert.deepEqual(problems(`${MINIMAL}roles:\n  map: { __proto__: admin }\n`).map(brief), [
      '6:10 roles.map.__proto__: the key "__proto__" is not allowed',
    ]);
    assert.deepEqual(problems(`${MINIMAL}? [a]\n: 1\n`).map(brief), ['5:3 : a key must be a plain string']);
    assert.deepEqual(problems(`${MINIMAL}audit:\n  output: !!binary aGVsbG8=\n`).map(brief), [
      '6:20 audit.output: unsupported value: use a string, number, boolean, list or map',
    ]);
  });

  it('follows aliases but bounds their expansion', () => {
    const { config } = parse(
      'routes:\n  - name: a\n    upstream: &up http://127.0.0.1:9001\n    policy: public\n  - name: b\n    upstream: *up\n    policy: public\n',
    );
    assert.equal(config.routes[1]!.upstream, 'http://127.0.0.1:9001');
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      bomb.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const found = problems(`${bomb.join('\n')}\n`);
    assert.deepEqual(found.map(brief), [
      '1:32 e[7][0][7][0][8]: the config is more than 100000 values (aliases count every time they are used)',
    ]);
  });

  it('refuses deep nesting with a problem, not a crash', () => {
    const found = problems(`${MINIMAL}x: ${'['.repeat(100)}${']'.repeat(100)}\n`);
    assert.ok(found.some((p) => /nested deeper than 64/.test(p.message)));
    // Deep enough to overflow the YAML parser's stack: still problems, never a RangeError.
    const deeper = problems(`x: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
    assert.ok(deeper.length >= 1);
    for (const p of deeper) assert.equal(p.line, 1);
  });
});

describe('unexpected failures', () => {
  it('surface as a ConfigError at 1:1, without the thrown message', () => {
    const env = new Proxy({} as Record<string, string>, {
      get() {
        throw new Error('internal detail with a secret');
      },
    });
    assert.throws(
      () => parseConfig(`${MINIMAL}store: \${env:X}\n`, 'gh.yaml', { env, readFile: noFiles }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems.map(brief), ['1:1 : the config could not be processed (Error)']);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
  });
});

describe('references', () => {
  it('resolves env and file references, whole and embedded, and records them', () => {
    const files: Record<string, string> = { '/run/s/cookie': `${'c'.repeat(40)}\n` };
    const text = `${MINIMAL}store: "redis://:\${env:PW}@redis:6379"\noidc:\n  issuer: https://idp.example.com\n  client_id: gh\n  client_secret: plain\nsession:\n  secrets: ["\${file:/run/s/cookie}"]\nserver: { public_url: "https://\${env:HOST}" }\n`;
    const loaded = parse(text, { PW: 'p@ss', HOST: 'app.example.com' }, (p) => {
      const body = files[p];
      if (body === undefined) throw Object.assign(new Error('x'), { code: 'ENOENT' });
      return body;
    });
    assert.equal(loaded.config.store, 'redis://:p@ss@redis:6379');
    assert.equal(loaded.config.session?.secrets[0], 'c'.repeat(40));
    assert.equal(loaded.config.server.public_url, 'https://app.example.com');
    assert.deepEqual(loaded.fileRefs, ['/run/s/cookie']);
    assert.deepEqual([...loaded.secretPaths].sort(), [
      'oidc.client_secret',
      'server.public_url',
      'session.secrets',
      'session.secrets[0]',
      'store',
    ]);
    const redacted = redactConfig(loaded) as {
      store: string;
      oidc: { client_secret: string; client_id: string };
    };
    assert.equal(redacted.store, '[redacted]');
    assert.equal(redacted.oidc.client_secret, '[redacted]');
    assert.equal(redacted.oidc.client_id, 'gh');
  });

  it('names a missing env var and an unreadable file at the scalar', () => {
    const text = `${MINIMAL}store: "redis://:\${env:REDIS_PW}@r"\naudit:\n  output: \${file:/nope/out}\n`;
    assert.deepEqual(problems(text).map(brief), [
      '5:8 store: environment variable "REDIS_PW" is not set',
      '7:11 audit.output: cannot read file "/nope/out" (ENOENT)',
    ]);
  });

  it('keeps $${ as a literal ${ and does not resolve it', () => {
    const { config, secretPaths } = parse(`${MINIMAL}audit:\n  output: "/var/log/$\${x}.log"\n`);
    assert.equal(config.audit.output, '/var/log/${x}.log');
    assert.equal(secretPaths.size, 0);
  });

  it('refuses unknown reference kinds', () => {
    assert.deepEqual(problems(`${MINIMAL}audit:\n  output: \${foo:x}\n`).map(brief), [
      '6:11 audit.output: unknown reference kind "foo" in "${foo:x}" (use ${env:NAME} or ${file:/path}; $${ for a literal ${)',
    ]);
  });

  it('resolves before validation, and never echoes a secret value', () => {
    const found = problems(
      `${MINIMAL}session:\n  secrets: ["\${env:SHORT}"]\n  idle_timeout: \${env:IDLE}\n`,
      {
        SHORT: 'tooshort-secret',
        IDLE: 'forever',
      },
    );
    assert.deepEqual(found.map(brief), [
      '6:13 session.secrets[0]: must be at least 32 characters',
      '7:17 session.idle_timeout: "…" is not a duration (use 500ms, 30s, 5m, 1h, 1d)',
    ]);
    const typed = problems(
      `${MINIMAL}oidc: { issuer: https://i.example, client_id: x, client_secret: 42 }\n`,
    );
    assert.ok(
      typed.some((p) => p.path === 'oidc.client_secret' && !p.message.includes('42')),
      typed.map(brief).join(),
    );
  });

  it('turns an exception from readFile into a problem', () => {
    const found = problems(`${MINIMAL}audit:\n  output: \${file:/x}\n`, {}, () => {
      throw new TypeError('boom with secret contents');
    });
    assert.deepEqual(found.map(brief), ['6:11 audit.output: cannot read file "/x" (unreadable)']);
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file, its ${file:} references and the given env', async () => {
    const secret = join(dir, 'secret');
    writeFileSync(secret, `${'s'.repeat(32)}\r\n`);
    const file = join(dir, 'gh.yaml');
    writeFileSync(
      file,
      `${MINIMAL}oidc:\n  issuer: https://idp.example.com\n  client_id: \${env:CID}\n  client_secret: x\nserver: { public_url: "https://a.example" }\nsession:\n  secrets: ["\${file:${secret}}"]\n`,
    );
    const loaded = await loadConfig(file, { env: { CID: 'gatehouse' } });
    assert.equal(loaded.file, file);
    assert.equal(oidcProviders(loaded.config)[0]?.client_id, 'gatehouse');
    assert.equal(loaded.config.session?.secrets[0], 's'.repeat(32));
    assert.deepEqual(loaded.fileRefs, [secret]);
  });

  it('refuses a directory as a ${file:} reference', async () => {
    const file = join(dir, 'dir-ref.yaml');
    writeFileSync(file, `${MINIMAL}audit:\n  output: \${file:${dir}}\n`);
    await assert.rejects(loadConfig(file, { env: {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map(brief), [`6:11 audit.output: cannot read file "${dir}" (ENOTFILE)`]);
      return true;
    });
  });

  it('rejects a missing config file with a ConfigError', async () => {
    const file = join(dir, 'absent.yaml');
    await assert.rejects(loadConfig(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${file}:1:1 (root): cannot read the config file (ENOENT)`);
      return true;
    });
  });
});

describe('secrets in messages', () => {
  it('never quotes a referenced value, even in a schema message that quotes values', () => {
    const found = problems(
      `${MINIMAL}    timeout: \${env:T}\n    connect_timeout: \${env:S}\nbearer:\n  - { issuer: x, audiences: [a], algorithms: ["\${env:ALG}"] }\n`,
      { T: 'hunter2-long-secret', S: 'abc', ALG: 'HS256-secret' },
    );
    assert.deepEqual(found.map(brief), [
      '5:14 routes[0].timeout: "…" is not a duration (use 500ms, 30s, 5m, 1h, 1d)',
      '6:22 routes[0].connect_timeout: "…" is not a duration (use 500ms, 30s, 5m, 1h, 1d)',
      '8:46 bearer[0].algorithms: "…" is symmetric and refused for an issuer with a JWKS',
    ]);
  });
});
