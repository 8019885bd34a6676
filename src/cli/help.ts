/**
 * Help text, written from the command table (`./commands.ts`): the overview, one command's page,
 * and the README's CLI section in Markdown.
 */
import { COMMANDS, type CommandSpec, GLOBAL_OPTIONS, type OptionSpec } from './commands.ts';

/** `gatehouse help` and `gatehouse --help`. */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = [
    'Usage: gatehouse <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Run `gatehouse help COMMAND` (or `gatehouse COMMAND --help`) for its options, examples and exit codes.',
  ];
  return `${lines.join('\n')}\n`;
}

/** `gatehouse help NAME` and `gatehouse NAME --help`. */
export function commandHelp(c: CommandSpec): string {
  const lines = [
    `Usage: gatehouse ${c.name}${c.args ? ` ${c.args}` : ''}`,
    '',
    ...wrap(c.description, 92),
    '',
    'Options:',
    ...optionLines(c.options),
    '',
    'Examples:',
    ...c.examples.map((e) => `  ${e}`),
    '',
    'Exit codes:',
    ...c.exitCodes.map(([code, meaning]) => `  ${code}  ${meaning}`),
  ];
  return `${lines.join('\n')}\n`;
}

function optionLines(options: readonly OptionSpec[]): string[] {
  const heads = options.map(optionHead);
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  return options.map((o, i) => `  ${heads[i]!.padEnd(width)}${o.help}`);
}

function optionHead(o: OptionSpec): string {
  const long = `--${o.name}${o.value ? ` ${o.value}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) out.push(line);
  return out;
}

/** The README's CLI section (between `<!-- cli:start -->` and `<!-- cli:end -->`). */
export function cliMarkdown(): string {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  const rows = COMMANDS.map((c) => {
    const options = c.options
      .filter((o) => o.name !== 'help')
      .map((o) => `\`--${o.name}${o.value ? ` ${o.value}` : ''}\``)
      .join(', ');
    const codes = c.exitCodes.map(([code, meaning]) => `${code} ${meaning}`).join('; ');
    return `| \`gatehouse ${c.name}\` | ${cell(c.summary)} | ${cell(options || '–')} | ${cell(codes)} |`;
  });
  const examples = COMMANDS.flatMap((c) => c.examples);
  return [
    '| command | does | options | exit codes |',
    '|---|---|---|---|',
    ...rows,
    '',
    '```sh',
    ...examples,
    '```',
    '',
  ].join('\n');
}
