/**
 * Runs after the whole suite (`npm test`: a second `node --test` over this file, which the
 * `test/**\/*.test.ts` glob does not match): every log and audit line that any test Gatehouse
 * wrote under `$GATEHOUSE_TEST_LOG_DIR` is scanned for tokens, seals, authorization codes and the
 * literal secrets of the test configs. One finding fails the run (issue 10).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { TEST_LOG_DIR } from '../helpers/gatehouse.ts';
import { collectLiteralSecrets, scanDir } from './scanner.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

it(`no secret in any log or audit line under ${TEST_LOG_DIR}`, (t) => {
  const literals = collectLiteralSecrets([join(ROOT, 'test'), join(ROOT, 'src/demo'), join(ROOT, 'config')]);
  const { files, lines, findings } = scanDir(TEST_LOG_DIR, literals);
  t.diagnostic(`scanned ${lines} lines in ${files} files for ${literals.size} literal secrets and 3 shapes`);
  assert.ok(files > 0, `no log files under ${TEST_LOG_DIR}: the suite did not write where the scanner looks`);
  assert.deepEqual(
    findings.slice(0, 20).map((f) => `${f.file}:${f.line} ${f.kind} ${f.excerpt}`),
    [],
    `${findings.length} secrets found in test logs`,
  );
});
