/**
 * `gatehouse check`: validate the config (every problem at once, as FILE:LINE:COL key.path:
 * message) and run its policy `tests:`. Exit 0 with a one-line summary, or 1.
 */
import { loadConfig } from '../config/load.ts';
import { ConfigError, formatProblem } from '../errors.ts';
import { runPolicyTests } from '../policy/policy-tests.ts';

export async function runCheck(configFile: string): Promise<number> {
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig(configFile);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(
      `${err.message}\n${err.problems.length} problem(s) found; the config was not accepted.\n`,
    );
    return 1;
  }
  const { config } = loaded;
  const report = runPolicyTests(config);
  for (const f of report.failures) {
    const at = loaded.locate(['tests', f.index]);
    process.stderr.write(
      `${formatProblem({ ...at, message: `policy test failed: ${f.url} expected ${f.expected}, got ${f.actual} (${f.reason})` })}\n`,
    );
  }
  if (report.failures.length > 0) {
    process.stderr.write(`${report.failures.length} of ${config.tests.length} policy test(s) failed.\n`);
    return 1;
  }
  process.stdout.write(
    `${configFile}: OK – ${config.routes.length} route(s), ${config.bearer.length} bearer issuer(s), ` +
      `${config.oidc ? 'browser login on' : 'no browser login'}, ${report.passed} policy test(s) passed\n`,
  );
  return 0;
}
