#!/usr/bin/env node
/**
 * The gatehouse command: argument parsing only; the work is in src/.
 * Exit codes: 0 ok, 1 config/policy-test failure or runtime error, 2 bad arguments.
 */
import { parseArgs } from 'node:util';
import { VERSION } from '../src/version.ts';

// Each command loads only what it needs: `check` and `explain` never load the proxy.

const USAGE = `Usage: gatehouse <command> [options]

Commands:
  serve   [-c FILE]                 run the proxy (FILE: $GATEHOUSE_CONFIG, then config/gatehouse.yaml)
  check   [-c FILE]                 validate the config and run its policy tests
  explain [-c FILE] --url URL [--method M] [--claims JSON|@file] [--auth-type session|bearer|dpop|mtls]
          [--provider NAME] [--client-id ID] [--scopes "a b"] [--source-ip IP] [--json]
                                    show the route, role mapping and decision for a request; no network
  sessions list [-c FILE] --sub SUB [--json]
                                    a user's sessions (session.storage: store, a redis:// store)
  sessions revoke [-c FILE] --sub SUB | --id ID [--json]
                                    end a user's sessions (or one) on every replica at once
  keygen                            print a fresh cookie secret and an ES256 private JWK
  demo                              a development IdP, a demo upstream and the proxy on loopback

Options:
  -c, --config FILE   config file
  -h, --help          this text
  -v, --version       the version
`;

function usageError(message: string): never {
  process.stderr.write(`gatehouse: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`gatehouse ${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  // `sessions` takes one action word; every other command takes none.
  const action = command === 'sessions' ? rest.shift() : undefined;
  if (rest.length > 0) usageError(`unexpected argument "${rest[0]}"`);
  const configFile = values.config ?? process.env.GATEHOUSE_CONFIG ?? 'config/gatehouse.yaml';
  switch (command) {
    case 'serve':
      return (await import('../src/cli/serve.ts')).runServe(configFile);
    case 'check':
      return (await import('../src/cli/check.ts')).runCheck(configFile);
    case 'explain':
      if (!values.url) usageError('explain needs --url');
      return (await import('../src/cli/explain.ts')).runExplain(configFile, {
        url: values.url,
        method: values.method,
        claims: values.claims,
        authType: values['auth-type'],
        provider: values.provider,
        clientId: values['client-id'],
        scopes: values.scopes,
        sourceIp: values['source-ip'],
        json: values.json ?? false,
      });
    case 'sessions':
      return (await import('../src/cli/sessions.ts')).runSessions(configFile, {
        action,
        sub: values.sub,
        id: values.id,
        json: values.json ?? false,
      });
    case 'keygen':
      return (await import('../src/cli/keygen.ts')).runKeygen();
    case 'demo':
      return (await import('../src/cli/demo.ts')).runDemo();
    case undefined:
      usageError('a command is required');
      break;
    default:
      usageError(`unknown command "${command}"`);
  }
  return 2;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      url: { type: 'string' },
      method: { type: 'string' },
      claims: { type: 'string' },
      'auth-type': { type: 'string' },
      provider: { type: 'string' },
      'client-id': { type: 'string' },
      scopes: { type: 'string' },
      'source-ip': { type: 'string' },
      json: { type: 'boolean' },
      sub: { type: 'string' },
      id: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`gatehouse: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
