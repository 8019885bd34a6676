/**
 * check: the one decision every entry point asks for – proxy mode, websocket upgrades,
 * `{prefix}/auth` and `{prefix}/userinfo` (and each later front: forward-auth, ext_authz).
 * It turns the request as the scope describes it (host, method, normalized target) and its
 * credentials into a {@link Verdict}, in this order:
 *
 *   route → preflight → identify (+ refresh, DPoP proof) → authorize → rate limit → identity headers
 *
 * It never writes a response: `respond.ts` answers a non-allow verdict, the entry point forwards
 * or answers an allowed one. What it learnt along the way (route, identity, decision, cookies to
 * set) is left on the scope for the answer and the audit line.
 */
import { GatehouseError, type ReasonCode } from '../errors.ts';
import type { CompiledPolicy, Decision } from '../policy/compile-policy.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import { authorize, meetsRestriction } from './authorize.ts';
import { type Accepts, type Credentials, identify } from './identify.ts';
import { identityHeaders } from './identity-headers.ts';
import { rateLimit } from './rate-limit.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

export type Verdict =
  | { readonly outcome: 'allow'; readonly reason: ReasonCode; readonly headers: Record<string, string> }
  | { readonly outcome: 'login' | 'deny' | 'error'; readonly reason: ReasonCode };

/** A check that is not against a route: an endpoint's own credential rule (`/userinfo`). */
export interface Guard {
  readonly accepts: Accepts;
  readonly policy: CompiledPolicy;
}

export interface CheckOptions {
  /** the route by name (nginx `/auth?route=NAME`) instead of matching host, path and method */
  readonly routeName?: string;
  /** oauth2-proxy's `?allowed_groups=…` narrowing (the `/auth` URL's own query) */
  readonly restrict?: string;
  /** decide against this guard instead of a route; no identity headers are made */
  readonly guard?: Guard;
}

const NO_OPTIONS: CheckOptions = {};

export async function check(
  scope: Scope,
  credentials: Credentials,
  rt: Runtime,
  opts: CheckOptions = NO_OPTIONS,
): Promise<Verdict> {
  const method = scope.method;
  try {
    const route = opts.guard ? undefined : findRoute(scope, rt, opts.routeName, method); // route
    if (!opts.guard && !route) return NO_ROUTE;
    scope.route = route;
    const accepts = opts.guard?.accepts ?? route!.config;
    const policy = opts.guard?.policy ?? rt.policies.get(route!.name)!;

    let decision: Decision | Verdict; // a Decision's outcome is one of a Verdict's
    if (route?.config.cors_preflight === 'allow' && method === 'OPTIONS' && credentials.preflightHeaders) {
      // A CORS preflight never carries credentials; the upstream answers it. No identity headers.
      scope.decision = PREFLIGHT;
      return { outcome: 'allow', reason: 'preflight', headers: {} };
    }
    if (policy.isPublic) decision = authorize(scope, policy);
    else {
      const started = performance.now();
      await identify(scope, credentials, rt, accepts); // identify, refresh
      decision = authorize(scope, policy); // authorize
      rt.metrics.authDuration.observe(
        { auth_type: scope.identity?.authType ?? 'anonymous' },
        (performance.now() - started) / 1000,
      );
    }
    if (decision.outcome === 'allow' && opts.restrict && !meetsRestriction(opts.restrict, scope.identity))
      decision = { outcome: 'deny', reason: 'policy_denied' };
    if (decision.outcome !== 'allow') return decision as Verdict;
    const limited = route ? await rateLimit(scope, route, rt) : undefined; // rate limit
    if (limited) return limited;

    const headers = route ? await identityHeaders(scope, rt, route, method) : {}; // identity headers
    return { outcome: 'allow', reason: decision.reason, headers };
  } catch (err) {
    return errorVerdict(scope, err, rt);
  }
}

function findRoute(
  scope: Scope,
  rt: Runtime,
  routeName: string | undefined,
  method: string,
): CompiledRoute | undefined {
  if (routeName !== undefined) return rt.routes.byName(routeName);
  return scope.target && rt.routes.match(scope.host, scope.target.path, method);
}

const PREFLIGHT: Decision = Object.freeze({
  outcome: 'allow',
  reason: 'preflight',
  dryRun: false,
  enforcedOutcome: 'allow',
});

/** No route covers the request (or an edge proxy described none). */
export const NO_ROUTE: Verdict = { outcome: 'error', reason: 'route_not_found' };

/**
 * The verdict for a stage that threw: its reason code, or `internal_error` for anything
 * unexpected – the one place such an exception surfaces, logged with its stack and never sent
 * to the client.
 */
export function errorVerdict(scope: Scope, err: unknown, rt: Pick<Runtime, 'log'>): Verdict {
  if (err instanceof GatehouseError) return { outcome: 'error', reason: err.code };
  rt.log.error({ request_id: scope.requestId, err }, 'unexpected error in pipeline');
  return { outcome: 'error', reason: 'internal_error' };
}
