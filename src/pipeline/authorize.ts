/**
 * authorize: identify the caller (only when the route is not public), then ask the route's
 * compiled policy. And, for an allowed request, the headers the upstream receives about it.
 */
import type { IncomingMessage } from 'node:http';
import { stripOwnCookies } from '../identity/cookies-upstream.ts';
import { identityHeaders } from '../identity/headers.ts';
import type { Decision } from '../policy/compile-policy.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import type { Runtime } from '../server/runtime.ts';
import { identify } from './identify.ts';
import { originalUrl } from './respond-denied.ts';
import type { Scope } from './scope.ts';

export async function authorize(
  req: IncomingMessage,
  scope: Scope,
  rt: Runtime,
  route: CompiledRoute,
): Promise<Decision> {
  const policy = rt.policies.get(route.name)!;
  if (policy.isPublic) {
    scope.decision = policy.decide(undefined);
    return scope.decision;
  }
  const started = performance.now();
  await identify(req, scope, rt, route.config);
  let decision = policy.decide(scope.identity);
  // A refused credential is the reason the caller hears, not a generic "no credentials".
  if (decision.reason === 'no_credentials' && scope.authFailure)
    decision = { ...decision, reason: scope.authFailure };
  rt.metrics.authDuration.observe(
    { auth_type: scope.identity?.authType ?? 'anonymous' },
    (performance.now() - started) / 1000,
  );
  scope.decision = decision;
  return decision;
}

/** Identity headers and the signed assertion for an allowed request; own cookies never go upstream. */
export async function forwardHeaders(
  req: IncomingMessage,
  scope: Scope,
  rt: Runtime,
  route: CompiledRoute,
): Promise<Record<string, string>> {
  if (req.headers.cookie !== undefined) {
    const rest = stripOwnCookies(req.headers.cookie, rt.isOwnCookie);
    if (rest === undefined) delete req.headers.cookie;
    else req.headers.cookie = rest;
  }
  const identity = scope.identity;
  if (!identity) return {};
  const headers = identityHeaders(identity, {
    accessToken: rt.config.identity.pass_access_token ? scope.accessToken : undefined,
  });
  const bind = rt.config.identity.assertion.bind_request;
  headers[rt.assertions.header.toLowerCase()] = await rt.assertions.sign(
    identity,
    route.audience,
    bind ? { method: scope.method, url: originalUrl(scope) } : undefined,
  );
  return headers;
}
