/**
 * What of a refused config still parses, so the cross-key checks can run on it in the same pass:
 * an unknown role in one route is reported beside a bad upstream in another, not only once that
 * is fixed. The parts the schema refused are cut away – a whole `routes[i]` (or `tests[i]`,
 * `bearer[i]`, `oidc[i]`) item, else the offending key – until the rest parses. The sections cut
 * into are returned as `incomplete`, so checks that need them stay quiet instead of reporting
 * what the cut itself caused; problem paths are mapped back to the items as written.
 */
import type * as z from 'zod';
import type { ConfigPath, PathProblem } from './positions.ts';
import type { Config } from './schema.ts';

/** Top-level lists whose items stand alone: one bad item is cut, its siblings are checked. */
const ITEM_SECTIONS: ReadonlySet<string> = new Set(['routes', 'tests', 'bearer', 'oidc']);
/** Re-parses at most this many times; each pass cuts at least one part away. */
const MAX_PASSES = 8;

export interface Salvaged {
  readonly data: Config;
  /** top-level sections something was cut from */
  readonly incomplete: ReadonlySet<string>;
  /** a problem about `data`, with its paths (and `routes[N]`-style mentions) as written */
  restore(p: PathProblem): PathProblem;
}

type Obj = Record<string | number, unknown>;

export function salvage(
  value: unknown,
  schema: z.ZodType<Config>,
  issues: readonly z.core.$ZodIssue[],
): Salvaged | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  let data = structuredClone(value) as Obj;
  const incomplete = new Set<string>();
  /** per item section: the original index of each remaining item */
  const origin = new Map<string, number[]>();
  for (const s of ITEM_SECTIONS) {
    const list = data[s];
    if (Array.isArray(list))
      origin.set(
        s,
        list.map((_, i) => i),
      );
  }
  const cut = new Set<string>();
  let current = issues;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const drop = new Map<string, Set<number>>();
    let progressed = false;
    for (const issue of current) {
      const paths: ConfigPath[] =
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((k) => [...(issue.path as ConfigPath), k])
          : [issue.path as ConfigPath];
      for (const raw of paths) {
        let path = raw;
        const section = path[0];
        if (typeof section !== 'string') return undefined; // the root itself is wrong
        // An unknown key means nothing to any check: cutting it leaves its section whole.
        if (issue.code !== 'unrecognized_keys') incomplete.add(section);
        if (ITEM_SECTIONS.has(section) && typeof path[1] === 'number' && origin.has(section)) {
          const set = drop.get(section) ?? new Set<number>();
          set.add(path[1]);
          drop.set(section, set);
          progressed = true;
          continue;
        }
        // A list entry, or a key already cut and now missing: cut its parent instead.
        while (path.length > 1 && (typeof path.at(-1) === 'number' || cut.has(JSON.stringify(path))))
          path = path.slice(0, -1);
        if (path.length === 1 && cut.has(JSON.stringify(path))) return undefined;
        cut.add(JSON.stringify(path));
        if (remove(data, path)) progressed = true;
      }
    }
    for (const [section, indices] of drop) {
      data[section] = (data[section] as unknown[]).filter((_, i) => !indices.has(i));
      origin.set(
        section,
        origin.get(section)!.filter((_, i) => !indices.has(i)),
      );
    }
    const result = schema.safeParse(data);
    if (result.success) {
      return { data: result.data, incomplete, restore: (p) => restore(p, origin) };
    }
    if (!progressed) return undefined;
    current = result.error.issues;
    data = structuredClone(data);
  }
  return undefined;
}

function remove(data: Obj, path: ConfigPath): boolean {
  let node: unknown = data;
  for (const seg of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return false;
    node = (node as Obj)[seg];
  }
  const last = path.at(-1)!;
  if (node === null || typeof node !== 'object' || !Object.hasOwn(node, last)) return false;
  delete (node as Obj)[last];
  return true;
}

function restore(p: PathProblem, origin: ReadonlyMap<string, number[]>): PathProblem {
  const map = (path: ConfigPath): ConfigPath => {
    const [section, index, ...rest] = path;
    const list = typeof section === 'string' ? origin.get(section) : undefined;
    if (list === undefined || typeof index !== 'number') return path;
    return [section!, list[index] ?? index, ...rest];
  };
  const message = p.message.replace(/\b(routes|tests|bearer|oidc)\[(\d+)\]/g, (all, s: string, n: string) => {
    const i = origin.get(s)?.[Number(n)];
    return i === undefined ? all : `${s}[${i}]`;
  });
  return {
    ...p,
    path: map(p.path),
    ...(p.anchor === undefined ? {} : { anchor: map(p.anchor) }),
    message,
  };
}
