/**
 * The test run of `npm test`: every `test/**\/*.test.ts` file, then the secret scan over the
 * logs they wrote, as ONE `node:test` run – so the last lines printed are node's own summary
 * (`ℹ tests N`, `ℹ pass`, `ℹ fail`…) of the whole suite, scan included, and the exit code is
 * non-zero when anything failed.
 *
 *   node test/run-tests.ts                      # the whole suite
 *   node test/run-tests.ts test/integration/cli.test.ts 'test/unit/**\/*.test.ts'
 *                                               # only these files (paths or globs), scan still last
 *
 * With files named, a scan that finds no log at all is skipped rather than failed: that subset
 * started no Gatehouse. The whole suite always writes logs, so there it stays a failure.
 *
 * Files run one at a time (`concurrency: 1`): integration tests start real servers and time
 * real things, and the scan must see every log line. Every test gets the same 120 s timeout
 * as before. Logs go to `$GATEHOUSE_TEST_LOG_DIR`, a fresh temp directory unless it is set.
 */
import { globSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const ROOT = new URL('../', import.meta.url).pathname;
const SCAN = 'test/secrets-scan/suite-logs.scan.ts';
const TEST_TIMEOUT_MS = 120_000;

/** Repo-relative test files in a stable order: the patterns given, else every test file. */
function testFiles(patterns: string[]): string[] {
  const files = new Set<string>();
  for (const pattern of patterns.length > 0 ? patterns : ['test/**/*.test.ts']) {
    const matched = globSync(pattern, { cwd: ROOT });
    if (matched.length === 0) throw new Error(`no test file matches ${JSON.stringify(pattern)}`);
    for (const file of matched) files.add(relative(ROOT, resolve(ROOT, file)));
  }
  files.delete(SCAN); // it runs last, whatever was asked
  return [...files].sort();
}

const patterns = process.argv.slice(2);
const files = [...testFiles(patterns), SCAN];
// Set before run(): the test processes inherit them, and the scan reads the same directory.
process.env.GATEHOUSE_TEST_LOG_DIR ||= mkdtempSync(join(tmpdir(), 'gatehouse-test-logs-'));
// A chosen subset may start no Gatehouse at all: the scan then has nothing to read (see there).
if (patterns.length > 0) process.env.GATEHOUSE_TEST_SUBSET = '1';

let summarised = false;
const stream = run({
  cwd: ROOT,
  files: files.map((f) => resolve(ROOT, f)),
  concurrency: 1,
  timeout: TEST_TIMEOUT_MS,
});
stream.on('test:summary', (summary) => {
  // One summary per file, then the run's own (no `file`): that one decides the exit code.
  if (summary.file !== undefined) return;
  summarised = true;
  if (!summary.success) process.exitCode = 1;
});
stream.on('end', () => {
  // A run that ended without its summary did not finish: never a silent pass.
  if (!summarised) process.exitCode = 1;
});
stream.compose(spec).pipe(process.stdout);
