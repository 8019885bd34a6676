/**
 * Config paths and where they sit in the YAML source. Every problem — YAML, reference, schema or
 * semantic — names a path such as `routes[0].policy.allow[1].roles` and is positioned through
 * the one `PositionMap` recorded while the document was walked, so all of them read alike.
 */
import type { LineCounter } from 'yaml';
import type { ConfigProblem } from '../errors.ts';

/** A path into the config: map keys and list indexes, outermost first. */
export type ConfigPath = readonly (string | number)[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `routes[0].policy.allow[1].roles`; keys that are not identifiers are quoted
 * (`roles.map["Okta-Admins"]`, `claims["realm_access.roles"]`) so a path is never ambiguous.
 */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Where one path sits: its key (absent for list items and the root) and its value. */
interface Position {
  key?: number;
  value: number;
}

/** The problem before it is positioned: a path, a message, and what to point at. */
export interface PathProblem {
  path: ConfigPath;
  message: string;
  /** point at the key rather than the value (unknown keys, duplicate keys) */
  at?: 'key' | 'value';
  /** position at this path instead, when `path` itself may not be written (a missing key) */
  anchor?: ConfigPath;
}

export class PositionMap {
  readonly #positions = new Map<string, Position>();
  readonly #file: string;
  readonly #lines: LineCounter;

  constructor(file: string, lines: LineCounter) {
    this.#file = file;
    this.#lines = lines;
  }

  /** First recording wins: a duplicate key keeps pointing at the value that is used. */
  record(path: ConfigPath, value: number, key?: number): void {
    const id = formatPath(path);
    if (!this.#positions.has(id)) this.#positions.set(id, key === undefined ? { value } : { key, value });
  }

  has(path: ConfigPath): boolean {
    return this.#positions.has(formatPath(path));
  }

  lineOf(offset: number): number {
    return this.#lines.linePos(Math.max(0, offset)).line;
  }

  /** A positioned problem at an offset of the source (YAML errors, references). */
  at(offset: number, path: ConfigPath, message: string): ConfigProblem {
    const { line, col } = this.#lines.linePos(Math.max(0, offset));
    return { file: this.#file, line, col, path: formatPath(path), message };
  }

  /**
   * Position a path problem. The path itself if it was written; otherwise its nearest written
   * ancestor, pointing at that ancestor's key (`session:`) because a missing key belongs there.
   */
  locate(problem: PathProblem): ConfigProblem {
    const target = problem.anchor ?? problem.path;
    let offset = 0;
    for (let n = target.length; n >= 0; n--) {
      const pos = this.#positions.get(formatPath(target.slice(0, n)));
      if (pos === undefined) continue;
      const exact = n === target.length && problem.anchor === undefined;
      offset = exact && problem.at !== 'key' ? pos.value : (pos.key ?? pos.value);
      break;
    }
    return this.at(offset, problem.path, problem.message);
  }
}

/** File order, then path, then message: stable, so output and tests are deterministic. */
export function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const id = `${p.line}:${p.col}:${p.path}:${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return unique.sort(
    (a, b) => a.line - b.line || a.col - b.col || cmp(a.path, b.path) || cmp(a.message, b.message),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
