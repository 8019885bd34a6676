/**
 * `gatehouse check`: validate the config (every problem at once, as FILE:LINE:COL key.path:
 * message) and run its policy `tests:`. Exit 0 with a one-line summary, or 1.
 *
 * `--skip-secrets` (CI, where the mounted secret files are absent): `${file:…}` references are
 * not read; each one is listed as skipped, and problems about those values are not counted.
 * An inline client secret is a warning: it works, but the file can then not be shared.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { type LoadedConfig, loadConfig } from '../config/load.ts';
import { oidcProviders } from '../config/providers.ts';
import type { Config } from '../config/schema.ts';
import { ConfigError, type ConfigProblem, formatProblem } from '../errors.ts';
import { silentLog } from '../observe/logger.ts';
import { createMetrics } from '../observe/metrics.ts';
import { runPolicyTests } from '../policy/policy-tests.ts';
import { createUpstreamProxy } from '../proxy/upstream-proxy.ts';
import { buildRuntime } from '../server/build-runtime.ts';
import { createMemoryStore } from '../store/store.ts';
import { createOutboundDispatcher } from '../util/outbound.ts';
import { missingConfigFile, type SecretScan, scanSecrets } from './config-file.ts';

export interface CheckOptions {
  /** do not read `${file:…}` secrets; report them as skipped */
  readonly skipSecrets?: boolean;
}

export async function runCheck(configFile: string, opts: CheckOptions = {}): Promise<number> {
  const missing = missingConfigFile(configFile);
  if (missing !== undefined) {
    process.stderr.write(missing);
    return 1;
  }
  const scan = scanSecrets(readText(configFile));
  const skipped = opts.skipSecrets ? scan.fileRefs : [];
  const isSkipped = (path: string) =>
    skipped.some((s) => path === s.path || path.startsWith(`${s.path}.`) || path.startsWith(`${s.path}[`));
  // A distinct placeholder per reference, long enough for any length rule (session secrets).
  const readFile = () => `skipped-by-gatehouse-check-${randomBytes(24).toString('base64url')}`;
  const out: string[] = [];
  const err: string[] = [];

  let loaded: LoadedConfig | undefined;
  let problems: readonly ConfigProblem[] = [];
  try {
    loaded = await loadConfig(configFile, opts.skipSecrets ? { readFile } : {});
    await buildOffline(loaded);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems = e.problems;
  }
  err.push(...warnings(configFile, scan, loaded));
  for (const s of skipped)
    out.push(`skipped (--skip-secrets): ${s.path} reads ${s.file}, which was not read or checked`);
  const counted = problems.filter((p) => !isSkipped(p.path));
  if (counted.length > 0 || loaded === undefined) {
    err.push(...counted.map(formatProblem));
    if (counted.length === 0) err.push('the config could not be checked without its secret files');
    err.push(`${counted.length} problem(s) found; the config was not accepted.`);
    return finish(out, err, 1);
  }
  const { config } = loaded;
  const report = runPolicyTests(config);
  for (const f of report.failures) {
    const at = loaded.locate(['tests', f.index]);
    err.push(
      formatProblem({
        ...at,
        message: `policy test failed: ${f.url} expected ${f.expected}, got ${f.actual} (${f.reason})`,
      }),
    );
  }
  if (report.failures.length > 0) {
    err.push(`${report.failures.length} of ${config.tests.length} policy test(s) failed.`);
    return finish(out, err, 1);
  }
  out.push(
    `${configFile}: OK – ${config.routes.length} route(s), ${config.bearer.length} bearer issuer(s), ` +
      `${loginSummary(config)}, ${report.passed} policy test(s) passed` +
      (skipped.length > 0 ? `, ${skipped.length} secret file(s) skipped` : ''),
  );
  return finish(out, err, 0);
}

function finish(out: string[], err: string[], code: number): number {
  if (err.length > 0) process.stderr.write(`${err.join('\n')}\n`);
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  return code;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // the loader reports why it cannot be read
  }
}

/** Not errors: the config works, but is better written otherwise. */
function warnings(file: string, scan: SecretScan, loaded: LoadedConfig | undefined): string[] {
  return scan.inlineClientSecrets.map((path) => {
    const at = loaded?.locate(path) ?? { file, line: 1, col: 1, path: '', message: '' };
    return formatProblem({
      ...at,
      message:
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows a literal reference
        'warning: the client secret is written in the config; use ${env:NAME} or ${file:/path} so the file holds no secret',
    });
  });
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
