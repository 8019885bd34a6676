/**
 * Role mapping: the raw group/role names an IdP puts in its tokens (`roles.claims` paths)
 * become `groups`; the names `roles.map` translates become Gatehouse `roles`.
 *
 * Every IdP puts them somewhere else – Okta `groups`, Cognito `cognito:groups`, Keycloak
 * `realm_access.roles` and `resource_access.<client>.roles`, Entra ID `roles` and `groups`
 * (GUIDs) – so the paths are config and this is the one place that reads them.
 */
import type { Config } from '../config/schema.ts';
import { type ClaimPath, compileClaimPath, readClaimPath } from './claims.ts';

/** Most groups kept for one identity: they become a header and a signed assertion. */
export const MAX_GROUPS = 1000;

export interface RoleMapper {
  /** Groups (deduplicated, first-seen order, bounded) and the roles they map to. */
  map(claims: Readonly<Record<string, unknown>>): { groups: string[]; roles: string[] };
  /** Every role some `roles.map` entry can produce: a policy naming another can never match. */
  readonly knownRoles: ReadonlySet<string>;
}

export function createRoleMapper(roles: Config['roles']): RoleMapper {
  const paths: readonly ClaimPath[] = roles.claims.map(compileClaimPath);
  // A Map, not the config object: a group named `__proto__` or `toString` must look up nothing.
  const table = new Map<string, readonly string[]>();
  const knownRoles = new Set<string>();
  for (const [group, target] of Object.entries(roles.map)) {
    const list = typeof target === 'string' ? [target] : [...target];
    table.set(group, Object.freeze(list));
    for (const role of list) knownRoles.add(role);
  }

  return {
    knownRoles,
    map(claims) {
      const seen = new Set<string>();
      for (const path of paths) {
        if (seen.size >= MAX_GROUPS) break;
        for (const value of readClaimPath(claims, path)) {
          if (seen.size >= MAX_GROUPS) break;
          seen.add(value);
        }
      }
      const mapped = new Set<string>();
      for (const group of seen) {
        const targets = table.get(group);
        if (targets !== undefined) for (const role of targets) mapped.add(role);
      }
      return { groups: [...seen], roles: [...mapped] };
    },
  };
}
