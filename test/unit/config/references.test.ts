// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about literal ${env:…} / ${file:…} references
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_SECRET_FILE_BYTES, readSecretFile, resolveReferences } from '../../../src/config/references.ts';

const files: Record<string, string> = {
  '/s/one': 'one\n',
  '/s/crlf': 'two\r\n',
  '/s/two': 'x\n\n',
  '/s/ref': '${env:A}',
};
const ctx = {
  env: { A: 'alpha', NESTED: '${file:/s/one}', EMPTY: '' },
  readFile: (path: string) => {
    const body = files[path];
    if (body === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return body;
  },
};

describe('resolveReferences', () => {
  it('leaves plain text alone', () => {
    assert.deepEqual(resolveReferences('plain $ {x} $', ctx), {
      value: 'plain $ {x} $',
      referenced: false,
      files: [],
      problems: [],
    });
  });

  it('resolves whole and embedded references', () => {
    assert.equal(resolveReferences('${env:A}', ctx).value, 'alpha');
    assert.equal(resolveReferences('redis://:${env:A}@h/${file:/s/one}', ctx).value, 'redis://:alpha@h/one');
    assert.equal(resolveReferences('${env:EMPTY}', ctx).value, '');
    const r = resolveReferences('${file:/s/one}${file:/s/crlf}', ctx);
    assert.deepEqual(r, { value: 'onetwo', referenced: true, files: ['/s/one', '/s/crlf'], problems: [] });
  });

  it('trims exactly one trailing newline from a file', () => {
    assert.equal(resolveReferences('${file:/s/two}', ctx).value, 'x\n');
  });

  it('never re-scans a resolved value', () => {
    assert.equal(resolveReferences('${env:NESTED}', ctx).value, '${file:/s/one}');
    assert.equal(resolveReferences('${file:/s/ref}', ctx).value, '${env:A}');
  });

  it('turns $${ into a literal ${', () => {
    const r = resolveReferences('a$${env:A}b$$c', ctx);
    assert.deepEqual(r, { value: 'a${env:A}b$$c', referenced: false, files: [], problems: [] });
  });

  it('reports every bad reference and keeps the unresolved text', () => {
    const r = resolveReferences('${env:NOPE}-${file:/nope}-${vault:x}-${env:1BAD}-${file:rel/x}-${oops', ctx);
    assert.equal(r.value, '${env:NOPE}-${file:/nope}-${vault:x}-${env:1BAD}-${file:rel/x}-${oops');
    assert.deepEqual(r.problems, [
      'environment variable "NOPE" is not set',
      'cannot read file "/nope" (ENOENT)',
      'unknown reference kind "vault" in "${vault:x}" (use ${env:NAME} or ${file:/path}; $${ for a literal ${)',
      '"${env:1BAD}": "1BAD" is not an environment variable name',
      '"${file:rel/x}": the file path must be absolute, such as /run/secrets/name',
      'unterminated "${" (write $${ for a literal ${)',
    ]);
  });
});

describe('readSecretFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-secret-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a regular file as UTF-8', () => {
    const file = join(dir, 'ok');
    writeFileSync(file, 'sécret\n');
    assert.equal(readSecretFile(file), 'sécret\n');
  });

  it('refuses directories, oversized files and missing files with a code', () => {
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(MAX_SECRET_FILE_BYTES + 1));
    assert.throws(() => readSecretFile(dir), { code: 'ENOTFILE' });
    assert.throws(() => readSecretFile(big), { code: 'EFBIG' });
    assert.throws(() => readSecretFile(join(dir, 'absent')), { code: 'ENOENT' });
  });
});
