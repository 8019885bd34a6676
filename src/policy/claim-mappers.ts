/**
 * Built-in claim mappers: where each IdP family puts the group and role names of a user, so a
 * platform team writes `claims_mapper: keycloak` instead of rediscovering the claim paths –
 * and so two IdPs with different shapes feed one `groups[]`/`roles[]` that policies, headers
 * and the assertion read alike.
 *
 * Paths are built as segment lists here, not dotted strings: a Keycloak client id or an Auth0
 * namespace (`https://example.com/`) contains dots that are part of one claim name.
 */
import type { ClaimsMapperName } from '../config/schema.ts';
import type { ClaimPath } from './claims.ts';

export interface MapperContext {
  /** OAuth client ids whose Keycloak client roles count (`resource_access.<id>.roles`) */
  clientIds: readonly string[];
  /** auth0: the custom claim namespace, e.g. `https://example.com/` */
  namespace?: string;
}

export interface ClaimsMapperPreset {
  paths: readonly ClaimPath[];
  /**
   * True when the token says the groups were left out (Entra ID's groups overage: more groups
   * than fit, replaced by a pointer to Microsoft Graph). Policies then see no groups, and the
   * audit line says why instead of a bare `no_rule_matched`.
   */
  overage?: (claims: Readonly<Record<string, unknown>>) => boolean;
}

export function claimsMapperPreset(name: ClaimsMapperName, ctx: MapperContext): ClaimsMapperPreset {
  switch (name) {
    case 'okta':
      return { paths: [['groups']] };
    case 'cognito':
      return { paths: [['cognito:groups']] };
    case 'keycloak':
      return {
        paths: [
          ['realm_access', 'roles'],
          ...ctx.clientIds.map((id) => ['resource_access', id, 'roles']),
          ['groups'],
        ],
      };
    case 'entra':
      return { paths: [['roles'], ['groups']], overage: entraGroupsOverage };
    case 'auth0': {
      const ns = ctx.namespace ?? '';
      return { paths: [[`${ns}roles`], [`${ns}groups`]] };
    }
  }
}

/**
 * Entra ID leaves `groups` out when a user has more than fit in the token (200 in a JWT) and
 * says so with `_claim_names.groups` (pointing at Graph), or `hasgroups: true` in implicit flows.
 * @see https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference#groups-overage-claim
 */
export function entraGroupsOverage(claims: Readonly<Record<string, unknown>>): boolean {
  if (Object.hasOwn(claims, 'hasgroups') && claims.hasgroups === true) return true;
  if (!Object.hasOwn(claims, '_claim_names')) return false;
  const names = claims._claim_names;
  return typeof names === 'object' && names !== null && Object.hasOwn(names, 'groups');
}
