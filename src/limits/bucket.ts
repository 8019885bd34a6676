/**
 * Token-bucket math as pure functions, shared by the memory limiter and (transcribed line for
 * line) the Redis Lua script, so one replica and many agree on every answer.
 *
 * A bucket holds up to `burst` tokens and gains `requests` tokens per `windowMs`, continuously;
 * a request takes one token or is refused. A bucket never seen is full. Time that runs backwards
 * (a clock step) adds nothing: the stored timestamp is kept, so a step back never mints tokens.
 */

/** One route's limit, as validated config. */
export interface BucketPolicy {
  /** tokens added per window */
  readonly requests: number;
  readonly windowMs: number;
  /** capacity (default: `requests`) */
  readonly burst: number;
}

/** What a bucket stores: tokens (fractional) as of `at` (epoch ms). */
export interface BucketState {
  readonly tokens: number;
  readonly at: number;
}

export interface TakeResult {
  readonly allowed: boolean;
  /** whole tokens left after this request */
  readonly remaining: number;
  /** seconds until a refused request may succeed (0 when allowed) */
  readonly retryAfterS: number;
  /** seconds until the bucket is full again (the draft's `t`) */
  readonly resetS: number;
  readonly state: BucketState;
}

/** Tokens per millisecond. */
export function refillRate(p: BucketPolicy): number {
  return p.requests / p.windowMs;
}

/** The tokens a bucket holds at `now`: refilled, capped at `burst`. */
export function tokensAt(state: BucketState | undefined, now: number, p: BucketPolicy): number {
  if (state === undefined) return p.burst;
  const elapsed = Math.max(0, now - state.at);
  return Math.min(p.burst, state.tokens + elapsed * refillRate(p));
}

/** Refill to `now`, then take one token if there is one. */
export function take(state: BucketState | undefined, now: number, p: BucketPolicy): TakeResult {
  const at = state === undefined ? now : Math.max(now, state.at);
  let tokens = tokensAt(state, now, p);
  const allowed = tokens >= 1;
  if (allowed) tokens -= 1;
  return result(allowed, tokens, at, p);
}

/** The answer for a bucket holding `tokens` after the request: shared with the Redis reply. */
export function result(allowed: boolean, tokens: number, at: number, p: BucketPolicy): TakeResult {
  const rate = refillRate(p);
  return {
    allowed,
    remaining: Math.floor(tokens),
    retryAfterS: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / rate / 1000)),
    resetS: Math.ceil((p.burst - tokens) / rate / 1000),
    state: { tokens, at },
  };
}

/** The bucket is full at `now`: storing it is the same as forgetting it (eviction loses nothing). */
export function isFull(state: BucketState, now: number, p: BucketPolicy): boolean {
  return tokensAt(state, now, p) >= p.burst;
}

/** How long a bucket may matter: after this it is full and can be dropped (ms). */
export function timeToFull(state: BucketState, p: BucketPolicy): number {
  return Math.ceil((p.burst - state.tokens) / refillRate(p));
}
