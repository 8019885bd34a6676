/**
 * authorize: the route's compiled policy decides on the identity `identify` left on the scope.
 * A presented but refused credential is the reason the caller hears, not a generic "no
 * credentials". Plus oauth2-proxy's per-location narrowing of `{prefix}/auth`, which can only
 * turn an allow into a deny.
 */
import type { CompiledPolicy, Decision } from '../policy/compile-policy.ts';
import { meetsAuthQuery } from './auth-query.ts';
import type { Scope } from './scope.ts';

export function authorize(scope: Scope, policy: CompiledPolicy): Decision {
  // The scope is the request facts (`clientIp`) a rule may ask about: passed as it is.
  let decision = policy.decide(scope.identity, scope);
  if (decision.reason === 'no_credentials' && scope.authFailure)
    decision = { ...decision, reason: scope.authFailure };
  scope.decision = decision;
  return decision;
}

/** False when `?allowed_groups=…` (and the like) in `search` excludes the identity. */
export function meetsRestriction(search: string, identity: Scope['identity']): boolean {
  return meetsAuthQuery(search, identity) !== false;
}
