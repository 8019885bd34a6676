/**
 * Buckets in Redis, shared by every replica: one EVALSHA per request runs {@link TAKE_SCRIPT},
 * which refills and takes atomically (no other command on the key can interleave), with the
 * Redis server's own clock (`TIME`), so replicas whose clocks disagree still agree on a bucket.
 * The script is the Lua transcription of `take` in `./bucket.ts`; the reply's tokens feed the
 * same `result()`, so a Redis answer and a memory answer read alike.
 *
 * A Redis that lost its script cache (restart, `SCRIPT FLUSH`, failover) answers `NOSCRIPT`:
 * the request is sent once more with EVAL, which also caches the script again. Writing after
 * `TIME` needs effects replication: Redis ≥ 5 (the default there; the only mode from 7) or Valkey.
 * @see https://redis.io/docs/latest/develop/interact/programmability/eval-intro/
 */
import { createHash } from 'node:crypto';
import { type BucketPolicy, result } from './bucket.ts';
import type { Limiter, LimitOutcome } from './limiter.ts';

const PREFIX = 'gatehouse:rl:';

/**
 * KEYS[1] the bucket; ARGV requests, window (ms), burst. Replies {allowed, tokens, at}: tokens as
 * a string, since Redis truncates a Lua number to an integer. The key expires once the bucket
 * would be full again (plus a second), so Redis holds only buckets that matter.
 */
export const TAKE_SCRIPT = `local requests = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = requests / window
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
local at = now
if saved[1] then
  tokens = tonumber(saved[1])
  local last = tonumber(saved[2])
  tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
  at = math.max(now, last)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return {allowed, tostring(tokens), at}`;

export const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

/** One raw command on the store's connection; throws what the client throws. */
export type RawSend = (args: string[]) => Promise<unknown>;

export function createRedisLimiter(send: RawSend): Limiter {
  return {
    kind: 'redis',
    async take(key: string, p: BucketPolicy): Promise<LimitOutcome> {
      const args = ['1', PREFIX + key, String(p.requests), String(p.windowMs), String(p.burst)];
      let reply: unknown;
      try {
        reply = await send(['EVALSHA', TAKE_SHA, ...args]);
      } catch (err) {
        if (!isNoScript(err)) throw err;
        reply = await send(['EVAL', TAKE_SCRIPT, ...args]);
      }
      return parseReply(reply, p);
    },
  };
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/** The script's reply as a {@link LimitOutcome}; anything else is a store failure. */
export function parseReply(reply: unknown, p: BucketPolicy): LimitOutcome {
  if (!Array.isArray(reply) || reply.length !== 3) throw new Error('unexpected rate-limit script reply');
  const tokens = Number(reply[1]);
  const at = Number(reply[2]);
  if (!Number.isFinite(tokens) || !Number.isFinite(at)) throw new Error('unexpected rate-limit script reply');
  const { state: _state, ...outcome } = result(reply[0] === 1, tokens, at, p);
  return outcome;
}
