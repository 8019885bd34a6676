/**
 * `scopes: [...]` – the token was granted every listed scope (see ../granted-scopes.ts). All of
 * them, unlike `roles`/`groups` (any of): a scope is a permission the API needs for this call,
 * and an endpoint that needs `orders:read orders:write` is not served by a token with one. For
 * "either scope", write two rules. Exact and case-sensitive, as RFC 6749 §3.3 compares them.
 */
import { grantedScopes } from '../granted-scopes.ts';
import type { Criterion } from './criterion.ts';

export function compileScopes(scopes: readonly string[]): Criterion {
  const required = [...new Set(scopes)];
  return (identity) => {
    const granted = grantedScopes(identity.claims);
    for (let i = 0; i < required.length; i++) if (!granted.has(required[i]!)) return false;
    return true;
  };
}
