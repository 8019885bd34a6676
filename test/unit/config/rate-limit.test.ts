/** `routes[].rate_limit` and `rate_limit_secret`: defaults, bounds and what a shared store needs. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load.ts';
import { ConfigError, type ConfigProblem } from '../../../src/errors.ts';

const route = (limit: string) =>
  `routes:\n  - { name: api, upstream: http://a, policy: public, rate_limit: ${limit} }\n`;

function parse(text: string) {
  return parseConfig(text, 'gh.yaml', { env: {}, readFile: () => '' });
}

function problems(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p: ConfigProblem) => `${p.path}: ${p.message}`);
  }
  assert.fail('the config was accepted');
}

describe('rate_limit config', () => {
  it('defaults per to identity, burst to requests and on_store_error to allow; window is a duration', () => {
    const { config } = parse(route('{ requests: 100, window: 1m }'));
    assert.deepEqual(config.routes[0]!.rate_limit, {
      per: 'identity',
      requests: 100,
      window: 60_000,
      burst: 100,
      on_store_error: 'allow',
    });
    const burst = parse(route('{ per: client, requests: 10, window: 30s, burst: 3, on_store_error: deny }'));
    assert.equal(burst.config.routes[0]!.rate_limit!.burst, 3);
  });

  it('refuses counts that are not positive whole numbers within bounds, with the field named', () => {
    assert.deepEqual(problems(route('{ requests: 0, window: 1m }')), [
      'routes[0].rate_limit.requests: must be at least 1, got 0',
    ]);
    assert.deepEqual(problems(route('{ requests: 1.5, window: 1m }')), [
      'routes[0].rate_limit.requests: must be a whole number, got 1.5',
    ]);
    assert.deepEqual(problems(route('{ requests: 10, window: 1m, burst: 2000000 }')), [
      'routes[0].rate_limit.burst: must be at most 1000000, got 2000000',
    ]);
  });

  it('refuses a window outside 1s … 1d, an unknown per and unknown keys', () => {
    assert.deepEqual(problems(route('{ requests: 10, window: 500ms }')), [
      'routes[0].rate_limit.window: duration must be at least 1000ms',
    ]);
    assert.deepEqual(problems(route('{ requests: 10, window: soon }')), [
      'routes[0].rate_limit.window: "soon" is not a duration (use 500ms, 30s, 5m, 1h, 1d)',
    ]);
    assert.equal(problems(route('{ per: user, requests: 10, window: 1m }')).length, 1);
    assert.equal(problems(route('{ requests: 10, window: 1m, rate: 3 }')).length, 1);
  });

  it('a shared store needs rate_limit_secret (or session.secrets) to hash bucket keys alike on every replica', () => {
    const shared = `store: redis://127.0.0.1:6379\n${route('{ requests: 10, window: 1m }')}`;
    const [problem, ...rest] = problems(shared);
    assert.deepEqual(rest, []);
    assert.match(
      problem!,
      /^routes\[0\]\.rate_limit: a rate limit on a shared store needs rate_limit_secret/,
    );
    assert.doesNotThrow(() => parse(`rate_limit_secret: ${'k'.repeat(32)}\n${shared}`));
    assert.deepEqual(problems(`rate_limit_secret: short\n${route('{ requests: 1, window: 1s }')}`), [
      'rate_limit_secret: must be at least 32 characters',
    ]);
  });

  it('config/examples/rate-limits.yaml is valid', () => {
    const file = new URL('../../../config/examples/rate-limits.yaml', import.meta.url);
    const env = {
      GATEHOUSE_REDIS_URL: 'redis://redis.internal:6379',
      GATEHOUSE_RATE_LIMIT_SECRET: 's'.repeat(40),
    };
    const { config } = parseConfig(readFileSync(file, 'utf8'), 'rate-limits.yaml', {
      env,
      readFile: () => '',
    });
    assert.deepEqual(
      config.routes.map((r) => [
        r.name,
        r.rate_limit?.per,
        r.rate_limit?.burst,
        r.rate_limit?.on_store_error,
      ]),
      [
        ['orders-api', 'client', 100, 'allow'],
        ['exports', 'identity', 10, 'deny'],
        ['signup', 'ip', 5, 'allow'],
      ],
    );
  });
});
