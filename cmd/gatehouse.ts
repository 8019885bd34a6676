#!/usr/bin/env node
/**
 * The gatehouse command: argument parsing only; the work is in src/. The commands, their
 * options and exit codes are the table in src/cli/commands.ts (`gatehouse help COMMAND`).
 * Exit codes: 0 ok, 1 config/policy-test failure or runtime error, 2 bad arguments,
 * 3 `explain --exit-code` and the request is not allowed.
 */
import { readCommandLine, type Values } from '../src/cli/args.ts';
import { commandHelp, overview } from '../src/cli/help.ts';
import { VERSION } from '../src/version.ts';

// Each command loads only what it needs: `check` and `explain` never load the proxy.

function usageError(message: string, help: string): never {
  process.stderr.write(`gatehouse: ${message}\n\n${help}`);
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  const line = readCommandLine(argv);
  switch (line.kind) {
    case 'usage':
      usageError(line.message, line.command ? commandHelp(line.command) : overview());
      break;
    case 'help':
      process.stdout.write(line.command ? commandHelp(line.command) : overview());
      return 0;
    case 'version':
      process.stdout.write(`gatehouse ${VERSION}\n`);
      return 0;
    case 'run':
      return run(line.command.name, line.values, () => commandHelp(line.command), line.action);
  }
  return 2;
}

async function run(command: string, values: Values, help: () => string, action?: string): Promise<number> {
  const str = (name: string) => values[name] as string | undefined;
  const configFile = str('config') ?? process.env.GATEHOUSE_CONFIG ?? 'config/gatehouse.yaml';
  switch (command) {
    case 'serve':
      return (await import('../src/cli/serve.ts')).runServe(configFile);
    case 'check':
      return (await import('../src/cli/check.ts')).runCheck(configFile, {
        skipSecrets: values['skip-secrets'] === true,
      });
    case 'explain': {
      const url = str('url');
      if (url === undefined) usageError('`gatehouse explain` needs --url URL', help());
      return (await import('../src/cli/explain.ts')).runExplain(configFile, {
        url,
        method: str('method'),
        claims: str('claims'),
        authType: str('auth-type'),
        provider: str('provider'),
        clientId: str('client-id'),
        scopes: str('scopes'),
        sourceIp: str('source-ip'),
        json: values.json === true,
        exitCode: values['exit-code'] === true,
      });
    }
    case 'sessions':
      return (await import('../src/cli/sessions.ts')).runSessions(configFile, {
        action,
        sub: str('sub'),
        id: str('id'),
        json: values.json === true,
      });
    case 'keygen':
      return (await import('../src/cli/keygen.ts')).runKeygen();
    case 'demo':
      return (await import('../src/cli/demo.ts')).runDemo();
  }
  return 2;
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
