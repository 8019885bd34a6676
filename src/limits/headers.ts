/**
 * `RateLimit-Policy` and `RateLimit` fields (structured-field lists, draft-ietf-httpapi-
 * ratelimit-headers-09): the policy names the route, its quota `q` and window `w` (seconds);
 * the current state gives the remaining `r` and the seconds `t` until the quota is whole again.
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
import type { BucketPolicy } from './bucket.ts';
import type { LimitOutcome } from './limiter.ts';

/** `"route";q=100;w=60` – the route name is a config name (A-Z a-z 0-9 _ . -): no escaping needed. */
export function policyField(route: string, p: BucketPolicy): string {
  return `"${route}";q=${p.requests};w=${Math.max(1, Math.ceil(p.windowMs / 1000))}`;
}

/** `"route";r=0;t=12` */
export function stateField(route: string, o: LimitOutcome): string {
  return `"${route}";r=${o.remaining};t=${o.resetS}`;
}

/** The headers of an answer under a limit; a refused one adds `Retry-After` (RFC 9110 §10.2.3). */
export function limitHeaders(route: string, p: BucketPolicy, o: LimitOutcome): Record<string, string> {
  const h: Record<string, string> = {
    'ratelimit-policy': policyField(route, p),
    ratelimit: stateField(route, o),
  };
  if (!o.allowed) h['retry-after'] = String(o.retryAfterS);
  return h;
}
