/**
 * `roles: [...]` – the identity holds any listed Gatehouse role (after `roles.map`); exact
 * and case-sensitive, so `admin` is not `Admin` and never `admins`.
 */
import { anyIn, type Criterion, invalidValue } from './criterion.ts';

/**
 * @param knownRoles every role `roles.map` can produce; when given, a role outside it is
 *   refused, because a rule naming it could never match (and a deny rule would silently open).
 */
export function compileRoles(roles: readonly string[], knownRoles?: ReadonlySet<string>): Criterion {
  if (knownRoles !== undefined) {
    for (const role of roles) {
      if (!knownRoles.has(role)) {
        throw invalidValue(
          'roles',
          `role "${role}" is produced by no roles.map entry; map a group to it, or use groups: to match raw claim values`,
        );
      }
    }
  }
  const accepted: ReadonlySet<string> = new Set(roles);
  return (identity) => anyIn(identity.roles, accepted);
}
