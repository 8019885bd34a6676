/**
 * The keys the schema knows at a config path, read off the zod schema itself (so a key added
 * to `schema.ts` is offered at once), and the one an unknown key most likely meant: the closest
 * known key within two edits (`polcy` → `policy`, `publc_url` → `public_url`).
 */
import type * as z from 'zod';
import type { ConfigPath } from './positions.ts';

type Def = { type: string; [key: string]: unknown };

const defOf = (schema: unknown): Def | undefined =>
  (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** The object schemas a path may lead to (a union offers each of its branches). */
function objectsAt(schema: unknown, path: ConfigPath, depth = 0): Def[] {
  const def = defOf(schema);
  if (def === undefined || depth > 64) return [];
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return objectsAt(def.innerType, path, depth + 1);
    case 'pipe':
      return objectsAt(def.in, path, depth + 1);
    case 'lazy':
      return objectsAt((def.getter as () => unknown)(), path, depth + 1);
    case 'union':
      return (def.options as unknown[]).flatMap((o) => objectsAt(o, path, depth + 1));
    case 'intersection':
      return [...objectsAt(def.left, path, depth + 1), ...objectsAt(def.right, path, depth + 1)];
    case 'array':
      if (path.length === 0) return [];
      return typeof path[0] === 'number' ? objectsAt(def.element, path.slice(1), depth + 1) : [];
    case 'record':
      return path.length === 0 ? [] : objectsAt(def.valueType, path.slice(1), depth + 1);
    case 'object': {
      if (path.length === 0) return [def];
      const shape = def.shape as Record<string, unknown>;
      const key = path[0]!;
      return typeof key === 'string' && Object.hasOwn(shape, key)
        ? objectsAt(shape[key], path.slice(1), depth + 1)
        : [];
    }
    default:
      return [];
  }
}

/** Every key the schema accepts in the map at `path` (empty when it is not a map of known keys). */
export function knownKeysAt(schema: z.ZodType, path: ConfigPath): string[] {
  const keys = new Set<string>();
  for (const def of objectsAt(schema, path)) for (const k of Object.keys(def.shape as object)) keys.add(k);
  return [...keys];
}

/** The known key `key` most likely meant (edit distance ≤ 2, the closest; none on a tie of two). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  let tie = false;
  const lower = key.toLowerCase();
  for (const k of known) {
    // limit one above the best: a result equal to the limit means "farther", never a tie
    const d = levenshtein(lower, k.toLowerCase(), bestDistance + 1);
    if (d > 2) continue;
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
      tie = false;
    } else if (d === bestDistance && best !== undefined) tie = true;
  }
  return tie ? undefined : best;
}

/** Levenshtein distance, cut off at `limit` (returns `limit` when it is at least that). */
export function levenshtein(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  if (a.length > 64 || b.length > 64) return limit; // a key that long is no typo of ours
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return Math.min(prev[b.length]!, limit);
}
