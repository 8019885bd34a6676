/**
 * The config loader: YAML text → references resolved → schema → cross-key checks → a frozen
 * `Config`. All or nothing: either every check passed, or a `ConfigError` lists every problem
 * found, in file order, as `FILE:LINE:COL key.path: message`. Nothing else ever escapes.
 */
import { readFile, stat } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import type { UiSettings } from '../pages/page-template.ts';
import { readUiAssets } from '../pages/ui-assets.ts';
import { type InputLookup, issueMessage, issuesToProblems } from './issues.ts';
import { knownKeysAt } from './known-keys.ts';
import { salvage } from './partial.ts';
import { type ConfigPath, formatPath, type PathProblem, PositionMap, sortProblems } from './positions.ts';
import { readSecretFile } from './references.ts';
import { type Config, configSchema } from './schema.ts';
import { validateSemantics } from './semantics.ts';
import { buildTree, type Tree } from './tree.ts';

export interface LoadedConfig {
  /** validated, defaulted and deeply frozen */
  readonly config: Config;
  readonly file: string;
  /**
   * Paths (as `formatPath` writes them) whose value came from a `${env:}`/`${file:}` reference
   * or sits under a secret key (client_secret, secrets, key, private_key, previous_keys,
   * dpop_nonce_secrets, rate_limit_secret): the values to redact before any config is logged.
   */
  readonly secretPaths: ReadonlySet<string>;
  /** files read through `${file:}`, so a reload re-reads them (and a watcher can watch them) */
  readonly fileRefs: readonly string[];
  /** `ui:` with its files (`custom_css`, `templates_dir`) read and checked; absent: defaults */
  readonly ui?: UiSettings;
  /** where a config path was written, for messages about it after loading (policy tests) */
  locate(path: ConfigPath, message?: string): ConfigProblem;
}

export interface ParseOptions {
  env: Record<string, string | undefined>;
  /** reads a `${file:}` reference; throws (with a `code` such as ENOENT) when it cannot */
  readFile: (path: string) => string;
}

/** Far beyond any real config; bounds the work one load can be made to do. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Read and parse a config file. Rejects only with `ConfigError`. */
export async function loadConfig(
  file: string,
  opts: { env?: NodeJS.ProcessEnv; readFile?: ParseOptions['readFile'] } = {},
): Promise<LoadedConfig> {
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOTFILE' });
    if (info.size > MAX_CONFIG_BYTES) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([rootProblem(file, `cannot read the config file (${codeOf(err)})`)]);
  }
  return parseConfig(text, file, { env: opts.env ?? process.env, readFile: opts.readFile ?? readSecretFile });
}

/**
 * Parse config text. Pure apart from `opts` and the `ui:` files it names (`custom_css`,
 * `templates_dir`, read relative to `file`'s folder); throws only `ConfigError`.
 */
export function parseConfig(text: string, file: string, opts: ParseOptions): LoadedConfig {
  try {
    return parse(text, file, opts);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // A bug or a pathological input (a stack overflow in a deeply nested flow collection):
    // still a positioned problem, and the error's message stays out of it.
    const name = err instanceof Error ? err.name : 'Error';
    throw new ConfigError([rootProblem(file, `the config could not be processed (${name})`)]);
  }
}

function parse(text: string, file: string, opts: ParseOptions): LoadedConfig {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError([rootProblem(file, `the config is larger than ${MAX_CONFIG_BYTES} bytes`)]);
  }
  const lines = new LineCounter();
  // prettyErrors off: the pretty form quotes the source line, which may hold a secret.
  // uniqueKeys off: the tree walk reports duplicates itself, naming the key.
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: false,
    version: '1.2',
    schema: 'core',
    merge: false,
  });
  const positions = new PositionMap(file, lines);
  const syntax = [...doc.errors, ...doc.warnings].map((e) =>
    positions.at(e.pos[0], [], e.message + hintFor(text, e.pos[0])),
  );
  // A broken document parses into a partial tree; schema errors about it would only mislead.
  if (syntax.length > 0) throw new ConfigError(sortProblems(syntax));

  const tree = buildTree(doc, positions, { env: opts.env, readFile: opts.readFile });
  if (tree.aborted) throw new ConfigError(sortProblems(tree.problems));
  const input = lookup(tree);
  const problems: ConfigProblem[] = [...tree.problems];
  const result = configSchema.safeParse(tree.value, { error: issueMessage });
  const scrub = scrubber(tree);
  let ui: UiSettings | undefined;
  if (result.success) {
    problems.push(...validateSemantics(result.data).map((p) => scrub(positions.locate(p))));
    const assets = readUiAssets(result.data.ui, file);
    ui = assets.settings;
    problems.push(...assets.problems.map((p) => positions.locate(p)));
  } else {
    for (const p of issuesToProblems(result.error.issues, input)) {
      // A failed reference was already reported; its placeholder text would only add noise.
      if (!underAny(p.path, tree.unresolved)) problems.push(scrub(positions.locate(p)));
    }
    // Every problem in one pass: the cross-key checks also run on what did parse.
    for (const p of partialSemantics(tree.value, result.error.issues))
      problems.push(scrub(positions.locate(p)));
  }
  if (problems.length > 0 || !result.success) {
    throw new ConfigError(
      sortProblems(problems.length > 0 ? problems : [rootProblem(file, 'invalid config')]),
    );
  }
  return Object.freeze({
    config: deepFreeze(result.data),
    file,
    secretPaths: tree.secretPaths,
    fileRefs: Object.freeze([...tree.fileRefs]),
    ...(ui !== undefined ? { ui } : {}),
    locate: (path: ConfigPath, message = '') => positions.locate({ path, message }),
  });
}

function partialSemantics(value: unknown, issues: Parameters<typeof salvage>[2]): PathProblem[] {
  try {
    const partial = salvage(value, configSchema, issues);
    if (partial === undefined) return [];
    return validateSemantics(partial.data, partial.incomplete).map(partial.restore);
  } catch {
    return []; // best effort: the schema's own problems are reported either way
  }
}

/**
 * A copy of the config for logs and `check` output, with every secret path replaced by
 * `"[redacted]"`.
 */
export function redactConfig(loaded: LoadedConfig): unknown {
  const copy = (value: unknown, path: ConfigPath): unknown => {
    if (loaded.secretPaths.has(formatPath(path))) return '[redacted]';
    if (Array.isArray(value)) return value.map((v, i) => copy(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        Object.defineProperty(out, k, { value: copy(v, [...path, k]), enumerable: true, writable: true });
      }
      return out;
    }
    return value;
  };
  return copy(loaded.config, []);
}

/**
 * The last line of defence for secrets in messages: schema messages such as
 * `"…" is not a duration` quote the value, and a value from a reference is a secret. Each
 * secret value in a message becomes `…`. Values under 6 characters are replaced only when
 * quoted at the problem's own path, where they are certainly the value meant.
 */
function scrubber(tree: Tree): (p: ConfigProblem) => ConfigProblem {
  const values = [...tree.secretValues].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  return (p) => {
    let message = p.message;
    for (const v of values) {
      if (v.length >= 6) message = message.split(v).join('…');
      else if (tree.secretPaths.has(p.path)) message = message.split(JSON.stringify(v)).join('"…"');
    }
    return message === p.message ? p : { ...p, message };
  };
}

function lookup(tree: Tree): InputLookup {
  const find = (path: ConfigPath): { found: boolean; value: unknown } => {
    let value: unknown = tree.value;
    for (const seg of path) {
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, seg))
        return { found: false, value };
      value = (value as Record<string | number, unknown>)[seg];
    }
    return { found: true, value };
  };
  return {
    has: (path) => find(path).found,
    get: (path) => find(path).value,
    isSecret: (path) => underAny(path, tree.secretPaths),
    knownKeys: (path) => knownKeysAt(configSchema, path),
  };
}

function underAny(path: ConfigPath, set: ReadonlySet<string>): boolean {
  for (let n = path.length; n >= 0; n--) if (set.has(formatPath(path.slice(0, n)))) return true;
  return false;
}

/** A `${…}` in a flow list or map (`[${file:/x}]`) is a YAML syntax error unless quoted. */
function hintFor(text: string, offset: number): string {
  const start = text.lastIndexOf('\n', Math.max(0, offset - 1)) + 1;
  const end = text.indexOf('\n', offset);
  const line = text.slice(start, end < 0 ? text.length : end);
  return line.includes('${') && /[[{]/.test(line)
    ? // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows a literal reference
      ' (inside [ ] or { }, quote a reference: "${env:NAME}")'
    : '';
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function rootProblem(file: string, message: string): ConfigProblem {
  return { file, line: 1, col: 1, path: '', message };
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'unreadable';
}
