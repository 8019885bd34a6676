/**
 * `providers: [okta, partners]` – which identity provider vouched for the caller, e.g. an area
 * for partners that employees' accounts (with the same group names) must not open.
 */
import type { Criterion } from './criterion.ts';

export function compileProviders(names: readonly string[]): Criterion {
  const accepted: ReadonlySet<string> = new Set(names);
  return (identity) => identity.idp !== undefined && accepted.has(identity.idp);
}
