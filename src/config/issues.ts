/**
 * zod issues → path problems with messages written for the person editing the YAML: they quote
 * the key or value (`unknown key "bogus"`, `expected a list, got "admin"`), unwrap unions to the
 * branch the user meant, and never echo a value from a secret path.
 */
import type * as z from 'zod';
import { closestKey } from './known-keys.ts';
import type { ConfigPath, PathProblem } from './positions.ts';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/** What a value looks like, told so the user recognises it. */
export interface InputLookup {
  /** whether the path was written in the YAML (a missing key is reported as such) */
  has(path: ConfigPath): boolean;
  get(path: ConfigPath): unknown;
  isSecret(path: ConfigPath): boolean;
  /** the keys the schema accepts in the map at `path`, for "did you mean" */
  knownKeys?(path: ConfigPath): readonly string[];
}

/** The per-parse error map: messages for issues whose schema gave none. Values are added later. */
export function issueMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${noun(issue.expected)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${literal(issue.values[0])}`
        : `must be one of ${issue.values.map(literal).join(', ')}`;
    case 'too_small':
      return bound('at least', issue.origin, issue.minimum, issue.inclusive !== false);
    case 'too_big':
      return bound('at most', issue.origin, issue.maximum, issue.inclusive !== false);
    case 'invalid_format':
      return issue.format === 'regex' ? 'has the wrong format' : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(literal).join(', ')}`;
    default:
      return undefined;
  }
}

/** Every zod issue as one or more path problems. */
export function issuesToProblems(issues: readonly Issue[], input: InputLookup): PathProblem[] {
  const out: PathProblem[] = [];
  for (const issue of issues) collect(issue, [], input, out);
  return out;
}

function collect(issue: Issue, base: ConfigPath, input: InputLookup, out: PathProblem[]): void {
  const path = [...base, ...(issue.path as (string | number)[])];
  switch (issue.code) {
    case 'unrecognized_keys':
      // One problem per key, pointing at the key itself: that is the line to delete or fix.
      for (const key of issue.keys) {
        const meant = closestKey(key, input.knownKeys?.(path) ?? []);
        const hint = meant === undefined ? '' : ` – did you mean ${literal(meant)}?`;
        out.push({ path: [...path, key], message: `unknown key ${literal(key)}${hint}`, at: 'key' });
      }
      return;
    case 'invalid_union': {
      // Nothing written there: no branch was meant, the key is simply missing.
      if (!input.has(path)) {
        out.push({ path, message: missing(path) });
        return;
      }
      const branch = meantBranch(issue.errors);
      if (branch !== undefined) {
        for (const inner of branch) collect(inner, path, input, out);
        return;
      }
      out.push({ path, message: withValue(`expected ${unionSummary(issue.errors)}`, path, input) });
      return;
    }
    case 'invalid_key': {
      const reasons = issue.issues.map((i) => i.message).join('; ');
      const key = path.at(-1);
      out.push({ path, message: `invalid key ${literal(key)}: ${reasons}`, at: 'key' });
      return;
    }
    case 'invalid_type':
      if (!input.has(path)) {
        out.push({ path, message: missing(path) });
        return;
      }
      out.push({ path, message: withValue(issue.message, path, input) });
      return;
    case 'invalid_value':
      out.push({ path, message: withValue(issue.message, path, input) });
      return;
    case 'too_small':
    case 'too_big':
      out.push({
        path,
        message: issue.origin === 'number' ? withValue(issue.message, path, input) : issue.message,
      });
      return;
    default:
      out.push({ path, message: issue.message });
  }
}

function missing(path: ConfigPath): string {
  const key = path.at(-1);
  return `missing required ${typeof key === 'number' ? `item ${key}` : `key ${literal(key)}`}`;
}

/**
 * The union branch the user evidently meant: the one whose value had the right shape. A branch
 * that failed on the value's own type or literal (an issue at the union's path) was not meant.
 */
function meantBranch(branches: readonly (readonly Issue[])[]): readonly Issue[] | undefined {
  const shaped = branches.filter(
    (issues) =>
      !issues.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')),
  );
  if (shaped.length === 0) return undefined;
  return shaped.reduce((best, b) => (b.length < best.length ? b : best));
}

function unionSummary(branches: readonly (readonly Issue[])[]): string {
  const options = new Set<string>();
  for (const issues of branches) {
    const head = issues.find((i) => i.path.length === 0);
    if (head?.code === 'invalid_type') options.add(noun(head.expected));
    else if (head?.code === 'invalid_value') for (const v of head.values) options.add(literal(v));
  }
  const list = [...options];
  if (list.length === 0) return 'a different value';
  return list.length === 1 ? list[0]! : `${list.slice(0, -1).join(', ')} or ${list.at(-1)}`;
}

/** Append what was written, unless the path holds a secret. */
function withValue(message: string, path: ConfigPath, input: InputLookup): string {
  if (input.isSecret(path)) return message;
  return `${message}, got ${show(input.get(path))}`;
}

/** A value as the user wrote it, kept short. */
function show(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return literal(value);
  return String(value);
}

function literal(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const short = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return typeof value === 'string' ? JSON.stringify(short) : short;
}

const NOUNS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  map: 'a map',
  array: 'a list',
  set: 'a list',
  null: 'nothing',
};

function noun(expected: string): string {
  return NOUNS[expected] ?? expected;
}

function bound(word: string, origin: string, limit: unknown, inclusive: boolean): string {
  const n = Number(limit);
  switch (origin) {
    case 'string':
      return `must be ${word} ${n} character${n === 1 ? '' : 's'} long`;
    case 'array':
    case 'set':
      return `must list ${word} ${n} item${n === 1 ? '' : 's'}`;
    default:
      if (inclusive) return `must be ${word} ${n}`;
      return `must be ${word === 'at least' ? 'more' : 'less'} than ${n}`;
  }
}
