/**
 * The rate-limit stage's cost per request: the bucket key (keyed SHA-256), a take from the memory
 * limiter (one hot key; 100,000 keys in rotation, at its bound), and a take through Redis – one
 * EVALSHA round trip on loopback, one request at a time and 32 in flight (node-redis pipelines
 * them on its one connection). The Redis cases need /usr/bin/redis-server and are left out
 * without it.
 *
 * Run: node_modules/.bin/node bench/micro/rate-limit.bench.ts
 */
import { existsSync } from 'node:fs';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { createClient } from 'redis';
import type { Identity } from '../../src/identity/identity.ts';
import { bucketKey, limitKeySecret, limitSubject } from '../../src/limits/limit-key.ts';
import { createMemoryLimiter } from '../../src/limits/memory-limiter.ts';
import { createRedisLimiter } from '../../src/limits/redis-limiter.ts';
import { REDIS_SERVER, startRedis } from '../../test/helpers/redis.ts';

const policy = { requests: 1_000_000, windowMs: 1000, burst: 1_000_000 };
const secret = limitKeySecret('bench-rate-limit-secret-0123456789abcdef');
const identity = { iss: 'https://idp.example.com', idp: 'corp', sub: '00u1abcd' } as unknown as Identity;
const keys = Array.from({ length: 100_000 }, (_, i) =>
  bucketKey(secret, 'api', `ip\0 10.0.${i >> 8}.${i & 255}`),
);

const hot = createMemoryLimiter();
const rotating = createMemoryLimiter(100_000);
let i = 0;

summary(() => {
  group('rate limit, in process', () => {
    bench('bucket key (keyed SHA-256 of route + subject)', () =>
      do_not_optimize(bucketKey(secret, 'api', limitSubject('identity', identity, '203.0.113.9'))),
    );
    bench('memory take, one hot key', async () => do_not_optimize(await hot.take(keys[0]!, policy)));
    bench('memory take, 100k keys in rotation', async () =>
      do_not_optimize(await rotating.take(keys[i++ % keys.length]!, policy)),
    );
  });
});

const redis = existsSync(REDIS_SERVER) ? await startRedis() : undefined;
const client = redis ? createClient({ url: redis.url }) : undefined;
if (client) {
  await client.connect();
  const limiter = createRedisLimiter((args) => client.sendCommand(args));
  await limiter.take(keys[0]!, policy); // script cached: every later call is one EVALSHA
  summary(() => {
    group('rate limit, Redis (loopback)', () => {
      bench('redis take, one at a time (one EVALSHA round trip)', async () =>
        do_not_optimize(await limiter.take(keys[i++ % keys.length]!, policy)),
      );
      bench('redis take, 32 in flight (per batch of 32)', async () =>
        do_not_optimize(
          await Promise.all(Array.from({ length: 32 }, () => limiter.take(keys[i++ % keys.length]!, policy))),
        ),
      );
    });
  });
}

await run();
await client?.close();
await redis?.close();
