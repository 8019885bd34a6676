/**
 * `identity.groups_filter`: which of an identity's groups are sent upstream (the
 * `X-Auth-Request-Groups` header and the assertion's `groups`). An IdP that puts hundreds of
 * groups in its tokens would otherwise overflow the upstream's header limit. Policies and the
 * `roles.map` still see every group: the filter shapes what the upstream is told, never what
 * Gatehouse decides.
 *
 * A string is a regular expression (unanchored: write `^…$` for a whole-name match); a list holds
 * exact names or globs where `*` matches any run of characters.
 */
import type { Identity } from './identity.ts';

export type GroupsFilterConfig = string | readonly string[] | undefined;

export interface GroupsFilter {
  /** `identity` with only the kept groups; the same object when it keeps all (or no filter) */
  apply(identity: Identity): Identity;
}

const KEEP_ALL: GroupsFilter = { apply: (identity) => identity };

export function compileGroupsFilter(config: GroupsFilterConfig): GroupsFilter {
  if (config === undefined) return KEEP_ALL;
  const test = typeof config === 'string' ? regexTest(config) : listTest(config);
  // Frozen identities come from the session and token caches, the same object on every warm
  // request: filter each once.
  const done = new WeakMap<Identity, Identity>();
  return {
    apply(identity) {
      const hit = done.get(identity);
      if (hit !== undefined) return hit;
      const kept = identity.groups.filter(test);
      const out =
        kept.length === identity.groups.length
          ? identity
          : Object.freeze({ ...identity, groups: Object.freeze(kept) });
      if (Object.isFrozen(identity)) done.set(identity, out);
      return out;
    },
  };
}

function regexTest(source: string): (group: string) => boolean {
  const re = new RegExp(source, 'u'); // the schema checked it compiles
  return (group) => re.test(group);
}

function listTest(entries: readonly string[]): (group: string) => boolean {
  const exact = new Set(entries.filter((e) => !e.includes('*')));
  const globs = entries.filter((e) => e.includes('*')).map(globToRegExp);
  return (group) => exact.has(group) || globs.some((re) => re.test(group));
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'su');
}
