/**
 * Which provider an identity comes from, and how its claims become groups and roles. One
 * entry per issuer (an `oidc` provider, or a `bearer` issuer that is no provider's) and per
 * provider name: a session finds its entry by the provider it logged in with, a bearer token
 * by its verified `iss`. Tokens of a bearer issuer that is also a login provider's take that
 * provider's name and mapping, so a person and their scripts get the same roles.
 */
import { type OidcProviderConfig, oidcProviders } from '../config/providers.ts';
import type { BearerIssuerConfig, Config } from '../config/schema.ts';
import { claimsMapperPreset } from './claim-mappers.ts';
import { createRoleMapper, type RoleMapper } from './roles.ts';

export interface IdpEntry {
  /** the provider name (`idp`); absent for an unnamed bearer issuer */
  readonly name?: string;
  readonly issuer: string;
  readonly mapper: RoleMapper;
}

export interface IdpDirectory {
  /** the entry of a verified issuer; unknown issuers get the top-level mapping and no name */
  forIssuer(iss: string): IdpEntry;
  forProvider(name: string): IdpEntry | undefined;
  /** the login providers (sessions name one of these) */
  readonly providers: readonly { readonly name: string; readonly issuer: string }[];
  /** every provider name a route or rule may list */
  readonly names: ReadonlySet<string>;
  /** every role any mapping can produce */
  readonly knownRoles: ReadonlySet<string>;
  /** every top-level claim any mapping reads */
  readonly claimNames: ReadonlySet<string>;
}

/**
 * Does a route's `providers:` list take an identity from `idp`? Absent list: every provider;
 * an identity without a provider name fits no list.
 */
export function acceptsProvider(providers: readonly string[] | undefined, idp: string | undefined): boolean {
  return providers === undefined || (idp !== undefined && providers.includes(idp));
}

type Mapping = Pick<OidcProviderConfig, 'claims_mapper' | 'claims_namespace' | 'roles'>;

export function createIdpDirectory(config: Pick<Config, 'oidc' | 'bearer' | 'roles'>): IdpDirectory {
  const byIssuer = new Map<string, IdpEntry>();
  const byName = new Map<string, IdpEntry>();
  const audiencesOf = (issuer: string) =>
    config.bearer.filter((b) => b.issuer === issuer).flatMap((b) => b.audiences);

  const providers = oidcProviders(config);
  for (const p of providers) {
    const entry: IdpEntry = {
      name: p.name,
      issuer: p.issuer,
      mapper: mapperFor(p, [p.client_id, ...audiencesOf(p.issuer)], config.roles),
    };
    byName.set(p.name, entry);
    if (!byIssuer.has(p.issuer)) byIssuer.set(p.issuer, entry);
  }
  for (const b of config.bearer) {
    if (byIssuer.has(b.issuer)) continue;
    const entry: IdpEntry = {
      ...(b.name !== undefined ? { name: b.name } : {}),
      issuer: b.issuer,
      mapper: mapperFor(b, b.audiences, config.roles),
    };
    byIssuer.set(b.issuer, entry);
    if (b.name !== undefined) byName.set(b.name, entry);
  }
  const fallback: IdpEntry = { issuer: '', mapper: createRoleMapper(config.roles) };

  const all = [fallback, ...byIssuer.values(), ...byName.values()];
  return {
    forIssuer: (iss) => byIssuer.get(iss) ?? fallback,
    forProvider: (name) => byName.get(name),
    providers: providers.map((p) => ({ name: p.name, issuer: p.issuer })),
    names: new Set(byName.keys()),
    knownRoles: new Set(all.flatMap((e) => [...e.mapper.knownRoles])),
    claimNames: new Set(all.flatMap((e) => [...e.mapper.claimNames])),
  };
}

function mapperFor(m: Mapping, clientIds: readonly string[], top: Config['roles']): RoleMapper {
  const preset = m.claims_mapper
    ? claimsMapperPreset(m.claims_mapper, {
        clientIds,
        ...(m.claims_namespace !== undefined ? { namespace: m.claims_namespace } : {}),
      })
    : undefined;
  // With a preset, its paths are the default; `roles.claims` adds to them. Without, it replaces
  // the top-level paths. A provider's own map replaces the top-level one entirely: merged, a
  // partner IdP's admin could create a group named like an employee group and inherit its role.
  const claims = m.roles?.claims ?? (preset ? [] : top.claims);
  return createRoleMapper({ claims, map: m.roles?.map ?? top.map }, preset);
}

/**
 * What a mapping declaration says, comparable: two declarations for one issuer must agree,
 * or a token's roles would depend on which entry happened to read it. Undefined when nothing
 * is declared (the entry inherits).
 */
export function mappingSignature(m: Mapping | BearerIssuerConfig): string | undefined {
  if (m.claims_mapper === undefined && m.claims_namespace === undefined && m.roles === undefined)
    return undefined;
  return JSON.stringify([
    m.claims_mapper ?? null,
    m.claims_namespace ?? null,
    m.roles?.claims ?? null,
    sorted(m.roles?.map),
  ]);
}

function sorted(map: Record<string, unknown> | undefined): unknown {
  if (map === undefined) return null;
  return Object.keys(map)
    .sort()
    .map((k) => [k, map[k]]);
}
