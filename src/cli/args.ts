/**
 * The command line, read against the command table: which command, its option values, or a
 * usage error in our own words (`unknown option --foo for \`gatehouse check\`; see \`gatehouse
 * help check\``) rather than node's parseArgs message. Pure: argv in, a result out.
 */
import { parseArgs } from 'node:util';
import { COMMANDS, type CommandSpec, commandNamed, GLOBAL_OPTIONS, type OptionSpec } from './commands.ts';

export type Values = Readonly<Record<string, string | boolean | undefined>>;

export type CommandLine =
  | { readonly kind: 'help'; readonly command?: CommandSpec }
  | { readonly kind: 'version' }
  | { readonly kind: 'run'; readonly command: CommandSpec; readonly values: Values; readonly action?: string }
  | { readonly kind: 'usage'; readonly message: string; readonly command?: CommandSpec };

type ParseOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** Every option of every command, so a value-taking option consumes its value while scanning. */
const ALL: ParseOptions = optionsOf([...GLOBAL_OPTIONS, ...COMMANDS.flatMap((c) => c.options)]);

export function readCommandLine(argv: readonly string[]): CommandLine {
  const { tokens } = parseArgs({
    args: [...argv],
    options: ALL,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positionals = tokens.filter((t) => t.kind === 'positional').map((t) => t.value);
  const name = positionals[0];
  const command = name === undefined ? undefined : commandNamed(name);
  if (name !== undefined && command === undefined)
    return usage(`unknown command "${name}"; the commands are ${COMMANDS.map((c) => c.name).join(', ')}`);
  const allowed = command?.options ?? GLOBAL_OPTIONS;
  const where = command
    ? ` for \`gatehouse ${command.name}\`; see \`gatehouse help ${command.name}\``
    : '; see `gatehouse help`';
  const values: Record<string, string | boolean | undefined> = {};
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const spec = allowed.find((o) => o.name === t.name);
    const shown = t.rawName.startsWith('--') ? `--${t.name}` : t.rawName;
    // --version anywhere, --help anywhere: what the person wants is clear
    if (t.name === 'version' && command === undefined) return { kind: 'version' };
    if (spec === undefined) return usage(`unknown option ${shown}${where}`, command);
    if (spec.type === 'boolean') {
      if (t.inlineValue) return usage(`option --${spec.name} takes no value${where}`, command);
      values[spec.name] = true;
      continue;
    }
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-') && t.value.length > 1))
      return usage(`option ${shown} needs a value (${spec.value ?? 'VALUE'})${where}`, command);
    values[spec.name] = t.value;
  }
  if (values.help === true) return { kind: 'help', ...(command ? { command } : {}) };
  if (command === undefined) return usage('a command is required');
  if (command.name === 'help') {
    const topic = positionals[1];
    if (topic === undefined) return { kind: 'help' };
    const about = commandNamed(topic);
    if (about === undefined || positionals.length > 2)
      return usage(`unknown command "${topic}"; the commands are ${COMMANDS.map((c) => c.name).join(', ')}`);
    return { kind: 'help', command: about };
  }
  if (command.actions !== undefined) {
    const action = positionals[1];
    if (action === undefined || !command.actions.includes(action))
      return usage(
        `\`gatehouse ${command.name}\` needs one of ${command.actions.join(', ')}${where}`,
        command,
      );
    if (positionals.length > 2) return usage(`unexpected argument "${positionals[2]}"${where}`, command);
    return { kind: 'run', command, values, action };
  }
  if (positionals.length > 1) return usage(`unexpected argument "${positionals[1]}"${where}`, command);
  return { kind: 'run', command, values };
}

function usage(message: string, command?: CommandSpec): CommandLine {
  return { kind: 'usage', message, ...(command ? { command } : {}) };
}

function optionsOf(specs: readonly OptionSpec[]): ParseOptions {
  const out: ParseOptions = {};
  for (const o of specs) out[o.name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  return out;
}
