/**
 * `gatehouse check`: validate the config (every problem at once, as FILE:LINE:COL key.path:
 * message) and run its policy `tests:`. Exit 0 with a one-line summary, or 1.
 */
import { Registry } from 'prom-client';
import { type LoadedConfig, loadConfig } from '../config/load.ts';
import { oidcProviders } from '../config/providers.ts';
import type { Config } from '../config/schema.ts';
import { ConfigError, formatProblem } from '../errors.ts';
import { silentLog } from '../observe/logger.ts';
import { createMetrics } from '../observe/metrics.ts';
import { runPolicyTests } from '../policy/policy-tests.ts';
import { createUpstreamProxy } from '../proxy/upstream-proxy.ts';
import { buildRuntime } from '../server/build-runtime.ts';
import { createMemoryStore } from '../store/store.ts';
import { createOutboundDispatcher } from '../util/outbound.ts';

export async function runCheck(configFile: string): Promise<number> {
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig(configFile);
    await buildOffline(loaded);
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
      `${loginSummary(config)}, ${report.passed} policy test(s) passed\n`,
  );
  return 0;
}

function loginSummary(config: Config): string {
  const names = oidcProviders(config).map((p) => p.name);
  if (names.length === 0) return 'no browser login';
  return names.length === 1 ? 'browser login on' : `browser login with ${names.join(', ')}`;
}

/**
 * Build everything `serve` would build (keys parsed, routes and policies compiled), without
 * starting anything: no listener, no discovery, no network call.
 */
async function buildOffline(loaded: LoadedConfig): Promise<void> {
  const dispatcher = createOutboundDispatcher();
  const proxy = createUpstreamProxy();
  try {
    const rt = await buildRuntime(loaded, {
      log: silentLog,
      metrics: createMetrics(new Registry(), { defaultMetrics: false }),
      dispatcher,
      proxy,
      audit: { write() {}, flush: async () => {}, flushSync() {}, close: async () => {} },
      store: createMemoryStore(),
    });
    rt.close();
  } finally {
    proxy.close();
    await dispatcher.close();
  }
}
