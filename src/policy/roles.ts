/**
 * Role mapping: the raw group/role names an IdP puts in its tokens (claim paths) become
 * `groups`; the names `roles.map` translates become Gatehouse `roles`.
 *
 * Every IdP puts them somewhere else – Okta `groups`, Cognito `cognito:groups`, Keycloak
 * `realm_access.roles` and `resource_access.<client>.roles`, Entra ID `roles` and `groups`
 * (GUIDs) – so the paths are config (or a built-in preset, ./claim-mappers.ts) and this is the
 * one place that reads them. Each provider has its own mapper; see ./idp-directory.ts.
 */
import type { Config } from '../config/schema.ts';
import type { ClaimsMapperPreset } from './claim-mappers.ts';
import { type ClaimPath, compileClaimPath, readClaimPath } from './claims.ts';

/** Most groups kept for one identity: they become a header and a signed assertion. */
export const MAX_GROUPS = 1000;

export interface MappedRoles {
  groups: string[];
  roles: string[];
  /** the IdP left the groups out of the token (Entra ID overage) */
  overage?: true;
}

export interface RoleMapper {
  /** Groups (deduplicated, first-seen order, bounded) and the roles they map to. */
  map(claims: Readonly<Record<string, unknown>>): MappedRoles;
  /** Every role some map entry can produce: a policy naming another can never match. */
  readonly knownRoles: ReadonlySet<string>;
  /** Top-level claim names this mapper reads (a session must keep them). */
  readonly claimNames: ReadonlySet<string>;
  /** The roles one group maps to (none: the group gives no role), for `explain`. */
  rolesFor(group: string): readonly string[];
}

export function createRoleMapper(
  roles: Pick<Config['roles'], 'claims' | 'map'>,
  preset?: ClaimsMapperPreset,
): RoleMapper {
  const paths: readonly ClaimPath[] = [...(preset?.paths ?? []), ...roles.claims.map(compileClaimPath)];
  const overage = preset?.overage;
  const derive = preset?.derive;
  // A Map, not the config object: a group named `__proto__` or `toString` must look up nothing.
  const table = new Map<string, readonly string[]>();
  const knownRoles = new Set<string>();
  for (const [group, target] of Object.entries(roles.map)) {
    const list = typeof target === 'string' ? [target] : [...target];
    table.set(group, Object.freeze(list));
    for (const role of list) knownRoles.add(role);
  }
  const claimNames = new Set(paths.map((p) => p[0]!));
  if (overage) for (const name of ['_claim_names', 'hasgroups']) claimNames.add(name);
  for (const name of preset?.deriveClaims ?? []) claimNames.add(name);

  return {
    knownRoles,
    claimNames,
    rolesFor: (group) => table.get(group) ?? [],
    map(claims) {
      const seen = new Set<string>(derive?.(claims));
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
      const out: MappedRoles = { groups: [...seen], roles: [...mapped] };
      if (overage?.(claims)) out.overage = true;
      return out;
    },
  };
}
