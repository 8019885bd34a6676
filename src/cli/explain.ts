/**
 * `gatehouse explain`: which route a URL reaches, how the claims map to groups and roles, and
 * the decision with its reason and deciding rule – computed offline, no network call.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.ts';
import { ConfigError } from '../errors.ts';
import { explain, formatExplain } from '../policy/explain.ts';

export interface ExplainArgs {
  url: string;
  method?: string;
  claims?: string;
  authType?: string;
  provider?: string;
  json: boolean;
}

export async function runExplain(configFile: string, args: ExplainArgs): Promise<number> {
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
  if (args.authType !== undefined && args.authType !== 'session' && args.authType !== 'bearer') {
    process.stderr.write('gatehouse: --auth-type must be session or bearer\n');
    return 2;
  }
  try {
    const { config } = await loadConfig(configFile);
    const result = explain(config, {
      url: args.url,
      method: args.method,
      claims,
      authType: args.authType as 'session' | 'bearer' | undefined,
      provider: args.provider,
    });
    process.stdout.write(args.json ? `${JSON.stringify(result)}\n` : `${formatExplain(result)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
