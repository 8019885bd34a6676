/**
 * rate limit: the stage after an allow decision, for a route with `rate_limit`. Only requests the
 * policy let through draw a token – a refused or unauthenticated one costs its caller nothing
 * here (the policy already answered it) – and a request without an identity is limited by its
 * address (see `limits/limit-key.ts`). Over the limit: `rate_limited` (429), with the
 * `RateLimit-Policy`, `RateLimit` and `Retry-After` headers left on the scope for `respond`;
 * under it, `RateLimit-Policy` and `RateLimit` for proxy mode's forwarded answer.
 *
 * A shared store that cannot answer does not take the upstream down with it: by default the
 * request passes (`on_store_error: allow`), logged at most once per {@link LOG_EVERY_MS} and
 * counted in `gatehouse_store_errors_total{op="limit"}`; `deny` answers `store_unavailable` (503).
 */
import type { RateLimitConfig } from '../config/schema.ts';
import type { BucketPolicy } from '../limits/bucket.ts';
import { limitHeaders } from '../limits/headers.ts';
import { bucketKey, limitSubject } from '../limits/limit-key.ts';
import type { Limiter } from '../limits/limiter.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import type { Verdict } from './check.ts';
import type { Observing } from './runtime.ts';
import type { Scope } from './scope.ts';

/** What the stage needs: the limiter and the key bucket keys are hashed with. */
export interface Limiting extends Observing {
  readonly limiter: Limiter;
  /** hex, from `limitKeySecret` */
  readonly limitKey: string;
}

const LOG_EVERY_MS = 10_000;
let lastLogged = Number.NEGATIVE_INFINITY;

const RATE_LIMITED: Verdict = { outcome: 'error', reason: 'rate_limited' };
const STORE_DOWN: Verdict = { outcome: 'error', reason: 'store_unavailable' };

/** The bucket policy of a route's validated `rate_limit`. */
export function bucketPolicy(limit: RateLimitConfig): BucketPolicy {
  return { requests: limit.requests, windowMs: limit.window, burst: limit.burst };
}

/** undefined: go on (a token was taken, or the store failed open); else the verdict to answer. */
export async function rateLimit(
  scope: Scope,
  route: CompiledRoute,
  rt: Limiting,
): Promise<Verdict | undefined> {
  const limit = route.config.rate_limit;
  if (limit === undefined) return undefined;
  const policy = bucketPolicy(limit);
  const key = bucketKey(rt.limitKey, route.name, limitSubject(limit.per, scope.identity, scope.clientIp));
  try {
    const outcome = await rt.limiter.take(key, policy);
    // Proxy mode sends these with the upstream's answer too (forward.ts), so a client can pace itself.
    scope.limitHeaders = limitHeaders(route.name, policy, outcome);
    if (outcome.allowed) return undefined;
    rt.metrics.rateLimited.inc({ route: route.name });
    return RATE_LIMITED;
  } catch (err) {
    rt.metrics.storeErrors.inc({ op: 'limit' });
    const now = performance.now();
    if (now - lastLogged >= LOG_EVERY_MS) {
      lastLogged = now;
      rt.log.warn(
        {
          route: route.name,
          on_store_error: limit.on_store_error,
          reason: err instanceof Error ? err.message : undefined,
        },
        'rate limit store unavailable',
      );
    }
    return limit.on_store_error === 'deny' ? STORE_DOWN : undefined;
  }
}
