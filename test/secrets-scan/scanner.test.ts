/**
 * The scanner itself (issue 10): it must find a planted secret of every kind, and stay quiet on
 * ordinary log lines, or the suite-wide scan proves nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { collectLiteralSecrets, literalSecrets, scanDir, scanText } from './scanner.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('secret scanner', () => {
  const literals = new Set(['planted-cookie-secret-0123456789abcdefgh']);
  const clean = [
    '{"level":"info","msg":"login complete","sub":"alice","session_id":"abc","request_id":"4c0c6e2e"}',
    '{"log":"audit","path":"/.gatehouse/callback","decision":"error","reason":"idp_unavailable"}',
    '{"level":"warn","route":"echo","error_code":"ECONNRESET","msg":"upstream request failed"}',
    '{"config":{"oidc":{"client_secret":"[redacted]"},"session":{"secrets":["[redacted]"]}}}',
  ].join('\n');

  it('stays quiet on ordinary lines', () => {
    assert.deepEqual(scanText(clean, literals), []);
  });

  it('finds a planted JWT, seal, authorization code and literal secret in a fixture directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-scan-fixture-'));
    writeFileSync(join(dir, 'clean.log'), clean);
    writeFileSync(
      join(dir, 'planted.log'),
      [
        '{"msg":"bearer","token":"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"}',
        '{"msg":"cookie","cookie":"gatehouse=Fe26.2*123*abc*def*ghi**jkl*mno~2"}',
        '{"msg":"callback","url":"/.gatehouse/callback?state=s&code=Sp1x0fIdPCodeValue"}',
        '{"msg":"config","client_secret":"planted-cookie-secret-0123456789abcdefgh"}',
      ].join('\n'),
    );
    const result = scanDir(dir, literals);
    assert.equal(result.files, 2);
    assert.deepEqual(
      result.findings.map((f) => [f.file, f.line, f.kind]),
      [
        ['planted.log', 1, 'jwt'],
        ['planted.log', 2, 'iron-seal'],
        ['planted.log', 3, 'authorization-code'],
        ['planted.log', 4, 'literal-secret'],
      ],
    );
    // the report never repeats the secret itself
    for (const f of result.findings) assert.ok(f.excerpt.length <= 13);
  });

  it('collects the literal secrets the test suite uses', () => {
    assert.deepEqual(
      [...literalSecrets("client_secret: 'abc-secret-0123456789abcdefgh', client_secret_basic")],
      ['abc-secret-0123456789abcdefgh'],
    );
    const all = collectLiteralSecrets([join(ROOT, 'test'), join(ROOT, 'src/demo')]);
    assert.ok(all.has('gatehouse-demo-secret-0123456789abcdef'), 'the dev IdP default client secret');
    assert.ok(all.has('e2e-cookie-secret-0123456789abcdefghijklmnop'), 'a cookie secret from a test config');
  });
});
