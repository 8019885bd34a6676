/**
 * Two Gatehouse replicas sharing a real redis-server draw from one bucket per caller: under a
 * bounded concurrent load split across both, the requests let through stay within the bucket's
 * bound (burst + what refills while the load runs). Redis holds only hashed keys. With Redis
 * gone, `on_store_error: allow` lets requests through and `deny` answers 503, both counted; once
 * Redis is back (empty, its script cache too) the limit holds again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { request } from 'undici';
import { route, testConfig } from '../helpers/config.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { waitFor } from '../helpers/wait.ts';
import { issuerEntry, metricValue, startTokenIssuer, type TokenIssuer } from './limits-helpers.ts';

const BURST = 20;
const PER_MINUTE = 20;
const LOAD = 200;
const CONCURRENCY = 20;

describe('rate limits shared by two replicas through Redis', { skip: redisMissing() }, () => {
  let redis: TestRedis;
  let issuer: TokenIssuer;
  let upstream: EchoUpstream;
  const replicas: TestGatehouse[] = [];

  before(async () => {
    redis = await startRedis();
    issuer = await startTokenIssuer();
    upstream = await startEchoUpstream();
    const yaml = testConfig({
      store: redis.url,
      rate_limit_secret: 'rate-limit-secret-0123456789abcdefghijkl',
      bearer: [issuerEntry(issuer)],
      routes: [
        route('api', '/api', upstream.url, {
          auth: ['bearer'],
          rate_limit: { per: 'identity', requests: PER_MINUTE, window: '1m', burst: BURST },
        }),
        route('strict', '/strict', upstream.url, {
          auth: ['bearer'],
          rate_limit: { per: 'identity', requests: 1000, window: '1m', on_store_error: 'deny' },
        }),
      ],
    });
    for (let i = 0; i < 2; i++) {
      const gh = await startTestGatehouse(yaml);
      replicas.push(gh);
      await gh.ready();
    }
  });
  after(async () => {
    for (const gh of replicas) await gh.close();
    await upstream?.close();
    await issuer?.close();
    await redis?.close();
  });

  const get = async (gh: TestGatehouse, path: string, token: string) => {
    const res = await request(`${gh.url}${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  };

  it('holds the limit within the bucket bound under concurrent load on both replicas', async () => {
    const token = await issuer.token('alice');
    const started = Date.now();
    const statuses: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < LOAD) {
        const n = next++;
        statuses.push((await get(replicas[n % 2]!, '/api/x', token)).status);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsedMs = Date.now() - started;
    const allowed = statuses.filter((s) => s === 200).length;
    const refused = statuses.filter((s) => s === 429).length;
    assert.equal(allowed + refused, LOAD, `only 200 and 429: ${[...new Set(statuses)].join(',')}`);
    const bound = BURST + Math.ceil((elapsedMs * PER_MINUTE) / 60_000);
    assert.ok(allowed >= BURST && allowed <= bound, `${allowed} allowed, bound ${BURST}..${bound}`);
    // both replicas refused: they share the bucket, neither has its own
    for (const gh of replicas)
      assert.ok((await metricValue(gh.adminUrl, /^gatehouse_rate_limited_total\{route="api"\}/)) > 0);
    // another identity is untouched by alice's load
    assert.equal((await get(replicas[0]!, '/api/x', await issuer.token('bob'))).status, 200);
  });

  it('stores hashed keys only: no subject in Redis', async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const keys = await client.keys('gatehouse:rl:*');
      assert.ok(keys.length >= 2, `keys: ${keys.join(' ')}`);
      for (const k of keys) {
        assert.match(k, /^gatehouse:rl:[A-Za-z0-9_-]{43}$/);
        assert.ok(!k.includes('alice') && !k.includes('bob'));
      }
    } finally {
      await client.close();
    }
  });

  it('fails open (allow) or closed (deny) while Redis is down, and limits again once it is back', async () => {
    const token = await issuer.token('carol');
    await redis.kill();
    const [gh] = replicas;
    await waitFor(async () => (await get(gh!, '/strict/x', token)).status === 503, {
      timeoutMs: 5000,
      what: 'the deny route to refuse with Redis down',
    });
    const open = await get(gh!, '/api/x', token);
    assert.equal(open.status, 200, 'on_store_error: allow lets the request through');
    const closed = await get(gh!, '/strict/x', token);
    assert.equal(closed.status, 503);
    assert.equal(JSON.parse(closed.body).error, 'store_unavailable');
    assert.ok((await metricValue(gh!.adminUrl, /^gatehouse_store_errors_total\{op="limit"\}/)) >= 2);
    assert.ok(gh!.logs().some((l) => l.msg === 'rate limit store unavailable'));

    await redis.restart(); // empty: no buckets, no cached script (NOSCRIPT → EVAL)
    await waitFor(async () => (await get(gh!, '/strict/x', token)).status === 200, {
      timeoutMs: 10_000,
      what: 'the limiter to reach Redis again',
    });
    const dave = await issuer.token('dave');
    const statuses = [];
    for (let i = 0; i < BURST + 1; i++) statuses.push((await get(replicas[i % 2]!, '/api/x', dave)).status);
    assert.equal(statuses.filter((s) => s === 200).length, BURST);
    assert.equal(statuses.at(-1), 429);
  });
});
