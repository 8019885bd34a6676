// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about literal ${env:…} / ${file:…} references
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { type LoadedConfig, parseConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/errors.ts';

const ENV_SECRET = 'ENVSECRET-7f3a';
const FILE_SECRET = 'FILESECRET-91c2';
const RUNS = { seed: 42, numRuns: 300 } as const;

/** parseConfig's whole contract: a LoadedConfig, or a ConfigError with sane, secret-free problems. */
function check(text: string): void {
  let loaded: LoadedConfig | undefined;
  try {
    loaded = parseConfig(text, 'p.yaml', {
      env: { X: ENV_SECRET, EMPTY: '' },
      readFile: (path) => {
        if (path === '/boom') throw new Error('boom');
        return `${FILE_SECRET}\n`;
      },
    });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    assert.ok(err.problems.length > 0);
    const lines = text.split('\n').length;
    let prev = { line: 0, col: 0 };
    for (const p of err.problems) {
      assert.equal(p.file, 'p.yaml');
      assert.ok(Number.isInteger(p.line) && p.line >= 1 && p.line <= lines, `line ${p.line}`);
      assert.ok(Number.isInteger(p.col) && p.col >= 1, `col ${p.col}`);
      assert.equal(typeof p.path, 'string');
      assert.ok(p.message.length > 0 && !p.message.includes('\n'), JSON.stringify(p.message));
      assert.ok(!p.message.includes(ENV_SECRET) && !p.message.includes(FILE_SECRET), p.message);
      assert.ok(p.line > prev.line || (p.line === prev.line && p.col >= prev.col), 'problems out of order');
      prev = p;
    }
    return;
  }
  assert.ok(Object.isFrozen(loaded.config));
  assert.ok(loaded.config.routes.length >= 1);
}

/** Fragments that exercise YAML structure, references and the schema's keys. */
const FRAGMENTS = [
  'routes:',
  '- name: a',
  'name: b',
  'upstream: http://127.0.0.1:9000',
  'policy: public',
  'policy:',
  'allow:',
  '- roles: [admin]',
  'roles:',
  'map: { G: admin }',
  'server:',
  'listen: ',
  'timeout: 5s',
  'timeout: ',
  'session:',
  'secrets:',
  'oidc:',
  'issuer: https://i.example',
  'bearer:',
  'tests:',
  'url: http://a/x',
  'expect: allow',
  '${env:X}',
  '${env:NOPE}',
  '${file:/s}',
  '${file:/boom}',
  '${file:rel}',
  '${bad:x}',
  '$${',
  '${',
  '"',
  "'",
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  ': ',
  '- ',
  '? ',
  '&a ',
  '*a',
  '*b',
  '!!binary ',
  '!x ',
  '#c',
  '---',
  '...',
  '%YAML 1.1',
  '|',
  '>',
  '\t',
  '\n',
  '\n  ',
  '\n    ',
  '  ',
  ' ',
  '__proto__: 1',
  'constructor: 1',
  '<<: *a',
  '0',
  '-1.5',
  'true',
  'null',
  '~',
  '1e400',
  '"\\u0000"',
  'é',
  '\r\n',
];

const yamlish = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).map((parts) => parts.join(''));

/** Config-shaped values: the right keys with wrong, right and hostile values. */
const leaf = fc.oneof(
  fc.constantFrom(
    'public',
    'http://127.0.0.1:1',
    '5s',
    '-1s',
    'admin',
    '${env:X}',
    '${file:/s}',
    '$${x}',
    '__proto__',
  ),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const KEYS = [
  'routes',
  'name',
  'upstream',
  'policy',
  'allow',
  'deny',
  'roles',
  'server',
  'listen',
  'timeout',
  'session',
  'secrets',
  'oidc',
  'issuer',
  'client_id',
  'bearer',
  'audiences',
  'map',
  'match',
  'path',
  'tests',
  'url',
  'expect',
  'auth',
  'bogus',
  '__proto__',
];
const { value: configish } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }),
  ),
}));

/** A valid config with one value somewhere replaced, to reach the deeper checks. */
const BASE = {
  server: { public_url: 'https://app.example.com' },
  oidc: { issuer: 'https://idp.example.com', client_id: 'gh', client_secret: '${env:X}' },
  session: { secrets: ['${file:/s}'.padEnd(40, 'x')] },
  roles: { map: { G: 'admin' } },
  routes: [{ name: 'a', upstream: 'http://127.0.0.1:1', policy: { allow: [{ roles: ['admin'] }] } }],
  tests: [{ url: 'https://app.example.com/', expect: 'allow' }],
};
const mutated = fc
  .tuple(
    fc.array(fc.oneof(fc.constantFrom(...KEYS), fc.nat({ max: 2 })), { minLength: 1, maxLength: 5 }),
    configish,
  )
  .map(([path, value]) => {
    const copy = structuredClone(BASE) as Record<string | number, unknown>;
    let node: Record<string | number, unknown> = copy;
    for (const seg of path.slice(0, -1)) {
      const next = node[seg];
      if (next === null || typeof next !== 'object') break;
      node = next as Record<string | number, unknown>;
    }
    Object.defineProperty(node, path.at(-1)!, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return copy;
  });

describe('parseConfig (property)', () => {
  it('returns or throws a well-formed ConfigError on YAML-ish text', () => {
    fc.assert(
      fc.property(yamlish, (text) => check(text)),
      RUNS,
    );
  });

  it('returns or throws a well-formed ConfigError on arbitrary unicode text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => check(text)),
      RUNS,
    );
  });

  it('returns or throws a well-formed ConfigError on generated objects dumped to YAML', () => {
    fc.assert(
      fc.property(configish, (value) => check(stringify(value))),
      RUNS,
    );
  });

  it('returns or throws a well-formed ConfigError on mutations of a valid config', () => {
    assert.doesNotThrow(() => check(stringify(BASE)));
    let accepted = 0;
    fc.assert(
      fc.property(mutated, (value) => {
        const text = stringify(value);
        check(text);
        try {
          parseConfig(text, 'p.yaml', { env: { X: ENV_SECRET }, readFile: () => FILE_SECRET });
          accepted += 1;
        } catch {}
      }),
      RUNS,
    );
    // Neither everything refused nor everything accepted: the generator reaches both sides.
    assert.ok(accepted > 0 && accepted < RUNS.numRuns, `accepted ${accepted}`);
  });
});
