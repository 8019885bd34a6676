/**
 * `gatehouse explain`: which route a URL reaches, how the claims map to groups and roles, and
 * the decision with its reason and deciding rule – computed offline, no network call.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.ts';
import { RULE_AUTH_TYPES, type RuleAuthType } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { explain, formatExplain } from '../policy/explain.ts';
import { missingConfigFile } from './config-file.ts';

export interface ExplainArgs {
  url: string;
  method?: string;
  claims?: string;
  authType?: string;
  provider?: string;
  clientId?: string;
  /** space- or comma-separated */
  scopes?: string;
  sourceIp?: string;
  json: boolean;
  /** exit 3 when the decision is not allow (a CI gate: "does this request get in?") */
  exitCode?: boolean;
}

/** `--exit-code` and the request would not be allowed. */
export const EXIT_NOT_ALLOWED = 3;

export async function runExplain(configFile: string, args: ExplainArgs): Promise<number> {
  const missing = missingConfigFile(configFile);
  if (missing !== undefined) {
    process.stderr.write(missing);
    return 1;
  }
  let claims: Record<string, unknown> | undefined;
  if (args.claims !== undefined) {
    try {
      const text = args.claims.startsWith('@') ? readFileSync(args.claims.slice(1), 'utf8') : args.claims;
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not an object');
      claims = parsed as Record<string, unknown>;
    } catch (err) {
      process.stderr.write(
        `gatehouse: --claims must be a JSON object or @file (${(err as Error).message})\n`,
      );
      return 2;
    }
  }
  if (args.authType !== undefined && !(RULE_AUTH_TYPES as readonly string[]).includes(args.authType)) {
    process.stderr.write(`gatehouse: --auth-type must be one of ${RULE_AUTH_TYPES.join(', ')}\n`);
    return 2;
  }
  const scopes = args.scopes?.split(/[\s,]+/).filter((s) => s.length > 0);
  let result: ReturnType<typeof explain>;
  try {
    const { config } = await loadConfig(configFile);
    result = explain(config, {
      url: args.url,
      method: args.method,
      claims,
      authType: args.authType as RuleAuthType | undefined,
      provider: args.provider,
      ...(args.clientId !== undefined ? { clientId: args.clientId } : {}),
      ...(scopes !== undefined ? { scopes } : {}),
      ...(args.sourceIp !== undefined ? { sourceIp: args.sourceIp } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    // A flag the explainer refuses (a bad --source-ip, --scopes beside a scope claim).
    if (err instanceof TypeError && (err as { code?: string }).code === 'ERR_INVALID_ARG_VALUE') {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  process.stdout.write(args.json ? `${JSON.stringify(result)}\n` : `${formatExplain(result)}\n`);
  return args.exitCode && result.decision !== 'allow' ? EXIT_NOT_ALLOWED : 0;
}
