/**
 * `auth_types: [session|bearer|dpop|mtls]` – how the identity authenticated, e.g. a route whose
 * API half accepts only machine tokens. `bearer` is any bearer token; `dpop` and `mtls` only a
 * sender-constrained one whose key was proven on this very request (a DPoP proof, RFC 9449, or
 * the client certificate of the connection, RFC 8705), so a stolen copy of it is useless.
 */
import type { RuleAuthType } from '../../config/schema.ts';
import type { Criterion } from './criterion.ts';

export function compileAuthTypes(types: readonly RuleAuthType[]): Criterion {
  const session = types.includes('session');
  const bearer = types.includes('bearer');
  const dpop = types.includes('dpop');
  const mtls = types.includes('mtls');
  return (identity) => {
    if (identity.authType === 'session') return session;
    if (bearer) return true;
    const binding = identity.binding;
    return (dpop && binding === 'dpop') || (mtls && binding === 'mtls');
  };
}
