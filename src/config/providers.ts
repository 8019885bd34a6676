/**
 * `oidc` is one provider (an object) or several (a list of named ones). Everything past the
 * config loader sees the list: a single provider is the list of one, called `default`.
 */
import type { Config, OidcConfig } from './schema.ts';

export const DEFAULT_PROVIDER = 'default';

export interface OidcProviderConfig extends OidcConfig {
  readonly name: string;
}

/** The configured login providers, in config order; empty without `oidc`. */
export function oidcProviders(config: Pick<Config, 'oidc'>): OidcProviderConfig[] {
  const { oidc } = config;
  if (oidc === undefined) return [];
  if (!Array.isArray(oidc)) return [{ ...oidc, name: oidc.name ?? DEFAULT_PROVIDER }];
  // A nameless list entry is a config error (semantics.ts); the placeholder never reaches a user.
  return oidc.map((p, i) => ({ ...p, name: p.name ?? `oidc${i}` }));
}

/** The config path of provider `index`, for positioned errors. */
export function providerPath(config: Pick<Config, 'oidc'>, index: number): (string | number)[] {
  return Array.isArray(config.oidc) ? ['oidc', index] : ['oidc'];
}
