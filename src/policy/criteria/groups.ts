/**
 * `groups: [...]` – the identity carries any listed raw group name (read from `roles.claims`);
 * exact and case-sensitive: `admin` never matches `admins` or `Admin`.
 */
import { anyIn, type Criterion } from './criterion.ts';

export function compileGroups(groups: readonly string[]): Criterion {
  const accepted: ReadonlySet<string> = new Set(groups);
  return (identity) => anyIn(identity.groups, accepted);
}
