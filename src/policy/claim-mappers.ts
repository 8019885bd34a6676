/**
 * Built-in claim mappers: where each IdP family puts the group and role names of a user, so a
 * platform team writes `claims_mapper: keycloak` instead of rediscovering the claim paths –
 * and so two IdPs with different shapes feed one `groups[]`/`roles[]` that policies, headers
 * and the assertion read alike.
 *
 * Paths are built as segment lists here, not dotted strings: a Keycloak client id or an Auth0
 * namespace (`https://example.com/`) contains dots that are part of one claim name.
 *
 * `kubernetes` has no group claim to read: it derives the groups the Kubernetes API server
 * itself gives a service account (`system:serviceaccounts`, `system:serviceaccounts:NAMESPACE`),
 * so policies and `roles.map` name namespaces the way RBAC does.
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
  /** groups computed from the claims rather than read from a path */
  derive?: (claims: Readonly<Record<string, unknown>>) => string[];
  /** top-level claims `derive` reads (a session must keep them) */
  deriveClaims?: readonly string[];
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
    case 'kubernetes':
      return { paths: [], derive: kubernetesGroups, deriveClaims: ['kubernetes.io', 'sub'] };
  }
}

/** A namespace name: an RFC 1123 DNS label. */
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The groups Kubernetes puts a service account in, from a projected service-account token:
 * `kubernetes.io.namespace` and `kubernetes.io.serviceaccount.name`, which must agree with
 * `sub` (`system:serviceaccount:NAMESPACE:NAME`) – claims that disagree, or a namespace that is
 * no namespace name, give no groups at all rather than a guess. Legacy secret-based tokens
 * (issuer `kubernetes/serviceaccount`, flat `kubernetes.io/serviceaccount/…` claims) have no
 * discovery document and are not read.
 * @see https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/
 * @see https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-subjects
 */
export function kubernetesGroups(claims: Readonly<Record<string, unknown>>): string[] {
  const k8s = ownObject(claims, 'kubernetes.io');
  const namespace = k8s && ownString(k8s, 'namespace');
  const account = k8s && ownObject(k8s, 'serviceaccount');
  const name = account && ownString(account, 'name');
  if (namespace === undefined || name === undefined || !NAMESPACE.test(namespace)) return [];
  if (!Object.hasOwn(claims, 'sub') || claims.sub !== `system:serviceaccount:${namespace}:${name}`) return [];
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`];
}

function ownObject(o: Readonly<Record<string, unknown>>, key: string): Record<string, unknown> | undefined {
  if (!Object.hasOwn(o, key)) return undefined;
  const v = o[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function ownString(o: Readonly<Record<string, unknown>>, key: string): string | undefined {
  if (!Object.hasOwn(o, key)) return undefined;
  const v = o[key];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
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
