/**
 * `auth_types: [session|bearer]` – how the identity authenticated, e.g. a route whose API
 * half accepts only machine tokens.
 */
import type { AuthType } from '../../config/schema.ts';
import type { Criterion } from './criterion.ts';

export function compileAuthTypes(types: readonly AuthType[]): Criterion {
  const accepted: ReadonlySet<AuthType> = new Set(types);
  return (identity) => accepted.has(identity.authType);
}
