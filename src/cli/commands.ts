/**
 * The table of gatehouse commands: the single source for `gatehouse help`, `COMMAND --help`,
 * the options each command accepts (argument parsing refuses the rest in its words), and the
 * README's CLI section (a unit test keeps README equal to {@link cliMarkdown}). A command added
 * here is documented everywhere at once.
 */

export interface OptionSpec {
  /** long name, without `--` */
  readonly name: string;
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  /** the value's placeholder in usage lines (`FILE`, `URL`) */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec {
  readonly name: string;
  /** one line, for the overview */
  readonly summary: string;
  /** what follows `gatehouse NAME` in the usage line */
  readonly args: string;
  /** the action words the command takes as its one argument (`sessions list`), if any */
  readonly actions?: readonly string[];
  /** a few sentences: what it does, what it reads */
  readonly description: string;
  readonly options: readonly OptionSpec[];
  readonly examples: readonly string[];
  /** exit code → meaning */
  readonly exitCodes: readonly (readonly [number, string])[];
}

const CONFIG: OptionSpec = {
  name: 'config',
  short: 'c',
  type: 'string',
  value: 'FILE',
  help: 'the config file (default: $GATEHOUSE_CONFIG, then config/gatehouse.yaml)',
};
const HELP: OptionSpec = { name: 'help', short: 'h', type: 'boolean', help: "this command's help" };
const USAGE_EXIT = [2, 'bad arguments (unknown command or option, missing value)'] as const;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'serve',
    summary: 'run the proxy',
    args: '[-c FILE]',
    description:
      'Runs Gatehouse until SIGTERM or SIGINT (in-flight requests drain within server.shutdown_grace). ' +
      'SIGHUP reloads the config; an invalid new config is refused and the old one keeps serving.',
    options: [CONFIG, HELP],
    examples: ['gatehouse serve -c /etc/gatehouse/gatehouse.yaml'],
    exitCodes: [
      [0, 'stopped by SIGTERM/SIGINT after draining'],
      [1, 'the config is invalid (every problem printed as FILE:LINE:COL) or Gatehouse could not start'],
      USAGE_EXIT,
    ],
  },
  {
    name: 'check',
    summary: 'validate the config and run its policy tests',
    args: '[-c FILE] [--skip-secrets]',
    description:
      'Reads the config, reports every problem at once as FILE:LINE:COL key.path: message, builds what ' +
      'serve would build (keys, routes, policies) without any network call, and runs the config’s ' +
      'policy tests (its tests: list). Warnings (an inline client secret) do not fail the check.',
    options: [
      CONFIG,
      {
        name: 'skip-secrets',
        type: 'boolean',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows a literal reference
        help: 'do not read ${file:…} secrets (CI, where they are absent): their checks are reported as skipped',
      },
      HELP,
    ],
    examples: [
      'gatehouse check -c gatehouse.yaml',
      'gatehouse check -c gatehouse.yaml --skip-secrets   # in CI',
    ],
    exitCodes: [
      [0, 'the config is valid and every policy test passed (warnings may be printed)'],
      [1, 'a config problem, a failed policy test, or the file cannot be read'],
      USAGE_EXIT,
    ],
  },
  {
    name: 'explain',
    summary: 'show the route, roles and decision for one request; no network',
    args: '--url URL [-c FILE] [--method M] [--claims JSON|@file] [--json] [--exit-code] …',
    description:
      'Replays the decision the proxy would make for a request, offline: the route it reaches, how the ' +
      'claims map to groups and roles, the decision and its reason, the rule that decided and what it ' +
      'missed. Without --claims the request is anonymous.',
    options: [
      CONFIG,
      {
        name: 'url',
        type: 'string',
        value: 'URL',
        help: 'the request URL (https://host/path) or a path (required)',
      },
      { name: 'method', type: 'string', value: 'M', help: 'the request method (default GET)' },
      {
        name: 'claims',
        type: 'string',
        value: 'JSON|@file',
        help: 'the caller’s token or session claims, as JSON or @file',
      },
      {
        name: 'auth-type',
        type: 'string',
        value: 'session|bearer|dpop|mtls',
        help: 'how the caller authenticated (default session)',
      },
      { name: 'provider', type: 'string', value: 'NAME', help: 'the provider whose role mapping applies' },
      { name: 'client-id', type: 'string', value: 'ID', help: 'the OAuth client (the client_id claim)' },
      { name: 'scopes', type: 'string', value: '"a b"', help: 'granted scopes, space- or comma-separated' },
      { name: 'source-ip', type: 'string', value: 'IP', help: 'the client address, for source_ips rules' },
      { name: 'json', type: 'boolean', help: 'print one JSON object instead of key: value lines' },
      { name: 'exit-code', type: 'boolean', help: 'exit 3 when the request would not be allowed' },
      HELP,
    ],
    examples: [
      `gatehouse explain -c gatehouse.yaml --url https://app.example.com/admin --claims '{"sub":"u1","groups":["Okta-Admins"]}'`,
      'gatehouse explain --url https://api.example.com/orders --auth-type bearer --client-id billing --scopes "orders:read" --exit-code',
    ],
    exitCodes: [
      [0, 'explained (whatever the decision, unless --exit-code)'],
      [1, 'the config is invalid'],
      [2, 'bad arguments, or a flag value explain refuses (bad --claims, --auth-type, --source-ip)'],
      [3, 'with --exit-code: the decision is not allow (deny, login needed, or no route)'],
    ],
  },
  {
    name: 'sessions',
    summary: "list or end a user's server-side sessions on every replica",
    args: 'list|revoke [-c FILE] --sub SUB | --id ID [--json]',
    actions: ['list', 'revoke'],
    description:
      "Reads the session records of session.storage: store in the config's Redis store. list shows a " +
      "user's sessions (never a token); revoke ends all of a user's sessions, or one by its id, and every " +
      'replica refuses them on their next request. With cookie storage only revoke --sub works.',
    options: [
      CONFIG,
      { name: 'sub', type: 'string', value: 'SUB', help: 'the user (the sub claim)' },
      { name: 'id', type: 'string', value: 'ID', help: 'one session, by the id list prints (revoke only)' },
      { name: 'json', type: 'boolean', help: 'print JSON instead of lines' },
      HELP,
    ],
    examples: [
      'gatehouse sessions list -c /etc/gatehouse/gatehouse.yaml --sub 00u1abcd',
      'gatehouse sessions revoke -c /etc/gatehouse/gatehouse.yaml --sub 00u1abcd',
    ],
    exitCodes: [
      [0, 'listed or revoked'],
      [1, 'a store, config or storage problem (cookie storage cannot list; store: memory is not reachable)'],
      [2, 'bad arguments'],
    ],
  },
  {
    name: 'keygen',
    summary: 'print a fresh cookie secret and an ES256 private JWK',
    args: '',
    description:
      'Prints a session.secrets entry and an identity.assertion.key. Keep both secret; share them across replicas.',
    options: [HELP],
    examples: ['gatehouse keygen'],
    exitCodes: [[0, 'printed'], USAGE_EXIT],
  },
  {
    name: 'demo',
    summary: 'a development IdP, a demo upstream and the proxy on loopback (npm start)',
    args: '',
    description:
      'Starts a development OpenID Provider with users alice and bob, an upstream that shows the headers ' +
      'it receives, and Gatehouse in front, on 127.0.0.1. GATEHOUSE_DEMO_PORT (default 8080) and ' +
      'GATEHOUSE_DEMO_ADMIN_PORT (default 9090) choose the ports. Development only; Ctrl-C stops it.',
    options: [HELP],
    examples: ['gatehouse demo', 'GATEHOUSE_DEMO_PORT=8081 gatehouse demo'],
    exitCodes: [
      [0, 'stopped by Ctrl-C (SIGINT) or SIGTERM'],
      [1, 'could not start: a port is busy, or the development dependencies are missing'],
      USAGE_EXIT,
    ],
  },
  {
    name: 'help',
    summary: 'the list of commands, or one command’s options, examples and exit codes',
    args: '[COMMAND]',
    description: 'gatehouse help COMMAND is the same as gatehouse COMMAND --help.',
    options: [HELP],
    examples: ['gatehouse help check'],
    exitCodes: [[0, 'printed'], USAGE_EXIT],
  },
];

/** Options accepted before or without a command. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'help', short: 'h', type: 'boolean', help: 'this text' },
  { name: 'version', short: 'v', type: 'boolean', help: 'the version' },
];

export function commandNamed(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
