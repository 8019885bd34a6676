import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type * as z from 'zod';
import { parseConfig } from '../../../src/config/load.ts';
import { oidcProviders } from '../../../src/config/providers.ts';
import { configSchema } from '../../../src/config/schema.ts';

const EXAMPLE = new URL('../../../config/gatehouse.example.yaml', import.meta.url);
const text = readFileSync(EXAMPLE, 'utf8');

/** What the example references: the test provides exactly these, so a new reference must be added here. */
const ENV = {
  GATEHOUSE_CLIENT_SECRET: 'client-secret',
  GATEHOUSE_OLD_COOKIE_SECRET: 'o'.repeat(32),
  GATEHOUSE_INTROSPECTION_SECRET: 'introspection-secret',
  REDIS_PASSWORD: 'redis-password',
};
const FILES: Record<string, string> = {
  '/run/secrets/gatehouse/cookie-secret': `${'c'.repeat(43)}\n`,
  '/run/secrets/gatehouse/assertion-key': '{"kty":"EC","crv":"P-256","d":"…"}\n',
};

function load() {
  return parseConfig(text, 'config/gatehouse.example.yaml', {
    env: ENV,
    readFile: (path) => {
      const body = FILES[path];
      if (body === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return body;
    },
  });
}

/** Every key name the schema accepts, found by walking zod's definitions. */
function schemaKeys(schema: z.core.$ZodType, into = new Set<string>(), depth = 0): Set<string> {
  if (depth > 20) return into;
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const next = (s: unknown) => schemaKeys(s as z.core.$ZodType, into, depth + 1);
  switch (def.type) {
    case 'object':
      for (const [key, value] of Object.entries(def.shape as Record<string, unknown>)) {
        into.add(key);
        next(value);
      }
      break;
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
      next(def.innerType);
      break;
    case 'array':
      next(def.element);
      break;
    case 'union':
      for (const option of def.options as unknown[]) next(option);
      break;
    case 'pipe':
      next(def.in);
      next(def.out);
      break;
    case 'record':
      next(def.valueType);
      break;
  }
  return into;
}

describe('config/gatehouse.example.yaml', () => {
  it('loads, with every reference resolved', () => {
    const { config, fileRefs, secretPaths } = load();
    assert.equal(oidcProviders(config)[0]?.client_secret, 'client-secret');
    assert.equal(config.session?.secrets[0], 'c'.repeat(43));
    assert.equal(config.store, 'redis://:redis-password@redis.internal:6379/0');
    assert.deepEqual([...fileRefs].sort(), Object.keys(FILES).sort());
    assert.ok(secretPaths.has('identity.assertion.key'));
    assert.ok(config.routes.length >= 2);
    assert.ok(config.tests.length >= 1);
  });

  it('documents every key of the schema', () => {
    const keys = schemaKeys(configSchema);
    assert.ok(keys.size > 60, `only ${keys.size} keys found: the schema walk is broken`);
    const missing = [...keys].filter((key) => !new RegExp(`(^|[\\s{,#])${key}:`, 'm').test(text));
    assert.deepEqual(missing, []);
  });
});

describe('config/examples/server-side-sessions.yaml', () => {
  it('loads: store sessions on a redis:// store', () => {
    const file = new URL('../../../config/examples/server-side-sessions.yaml', import.meta.url);
    const { config } = parseConfig(readFileSync(file, 'utf8'), 'server-side-sessions.yaml', {
      env: { OIDC_CLIENT_SECRET: 's', SESSION_SECRET: 'x'.repeat(32), REDIS_PASSWORD: 'p' },
      readFile: () => {
        throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      },
    });
    assert.equal(config.session?.storage, 'store');
    assert.match(config.store, /^redis:\/\//);
  });
});
