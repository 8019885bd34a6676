/**
 * Property tests of the session cookie codec (issue 10): any session round-trips through
 * write → Cookie header → read, and a sealed cookie with any single byte changed, removed or
 * added is `session_invalid` – never an exception, never a session.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { configSchema } from '../../../src/config/schema.ts';
import { silentLog } from '../../../src/observe/logger.ts';
import { createSessionCodec } from '../../../src/session/cookie-codec.ts';
import type { SessionData } from '../../../src/session/session-data.ts';

const SECRET = 'property-secret-0123456789abcdefghijklmnop';
const T0 = Date.UTC(2030, 0, 1);
const RUNS = { seed: 10, numRuns: 60 } as const;

// cacheSize 0: every read really unseals, so a mutation can never be answered from the cache.
const codec = createSessionCodec({
  session: configSchema.parse({
    session: { secrets: [SECRET], idle_timeout: '1h', max_lifetime: '12h' },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', policy: 'public' }],
  }).session!,
  secure: false,
  cacheSize: 0,
  log: silentLog,
});

function liveCookies(setCookies: string[]): string {
  return setCookies
    .filter((c) => !/Max-Age=0(;|$)/.test(c))
    .map((c) => c.split(';')[0])
    .join('; ');
}

const claimValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer(),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 30 }), { maxLength: 200 }),
);
const sessionArb: fc.Arbitrary<SessionData> = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 40 }),
    sub: fc.string({ minLength: 1, maxLength: 60 }),
    extra: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), claimValue, { maxKeys: 6 }),
    accessToken: fc.option(fc.string({ maxLength: 3000 }), { nil: undefined }),
    noise: fc.option(fc.uint8Array({ minLength: 0, maxLength: 6000 }), { nil: undefined }),
  })
  .map(({ id, sub, extra, accessToken, noise }) => {
    const now = Math.floor(T0 / 1000);
    const s: SessionData = {
      v: 1,
      id,
      iss: 'https://idp.example',
      claims: { ...extra, sub },
      createdAt: now,
      lastSeenAt: now,
    };
    if (accessToken !== undefined) (s as { accessToken?: string }).accessToken = accessToken;
    // incompressible bytes force several chunks
    if (noise !== undefined)
      (s.claims as Record<string, unknown>).noise = Buffer.from(noise).toString('base64');
    return s;
  });

describe('session cookie codec properties', () => {
  it('property: any session round-trips through Set-Cookie → Cookie → read', async () => {
    await fc.assert(
      fc.asyncProperty(sessionArb, async (s) => {
        const set = await codec.write(s, [], T0);
        const read = await codec.read(liveCookies(set), T0 + 1000);
        assert.equal(read.reason, undefined);
        assert.deepEqual(
          JSON.parse(JSON.stringify(read.session)),
          JSON.parse(JSON.stringify({ ...s, lastSeenAt: Math.floor(T0 / 1000) })),
        );
      }),
      RUNS,
    );
  });

  it('every single-character substitution of a sealed cookie is session_invalid', async () => {
    const set = await codec.write(
      {
        v: 1,
        id: 'sid',
        iss: 'https://idp',
        claims: { sub: 'alice' },
        createdAt: T0 / 1000,
        lastSeenAt: T0 / 1000,
      },
      [],
      T0,
    );
    const cookie = set[0]!.split(';')[0]!;
    const eq = cookie.indexOf('=');
    const name = cookie.slice(0, eq);
    const value = cookie.slice(eq + 1);
    assert.match(value, /^Fe26\.2\*/);
    assert.ok((await codec.read(cookie, T0)).session, 'the unmutated cookie reads');
    // Each position, replaced by two other characters of the seal alphabet (one from each class)
    // and removed, plus one character inserted before it: 4 × length reads, all refused.
    const alphabet = 'AZaz09-_*~.';
    let checked = 0;
    for (let i = 0; i <= value.length; i++) {
      const variants: string[] = [`${value.slice(0, i)}x${value.slice(i)}`];
      if (i < value.length) {
        const others = [...alphabet].filter((c) => c !== value[i]);
        variants.push(
          `${value.slice(0, i)}${others[i % others.length]}${value.slice(i + 1)}`,
          `${value.slice(0, i)}${others[(i * 7 + 3) % others.length]}${value.slice(i + 1)}`,
          `${value.slice(0, i)}${value.slice(i + 1)}`,
        );
      }
      for (const v of variants) {
        const read = await codec.read(`${name}=${v}`, T0);
        assert.equal(read.session, undefined, `mutation at ${i}: ${v}`);
        assert.equal(read.reason, 'session_invalid', `mutation at ${i}`);
        checked++;
      }
    }
    assert.ok(checked > 4 * 200, `checked ${checked} mutations`);
  });

  it('property: any byte at any position (including non-ASCII and separators) is refused', async () => {
    const s: SessionData = {
      v: 1,
      id: 'sid',
      iss: 'https://idp',
      claims: { sub: 'bob', groups: Array.from({ length: 400 }, (_, i) => `group-${i}-${i * 7919}`) },
      createdAt: T0 / 1000,
      lastSeenAt: T0 / 1000,
    };
    const set = await codec.write(s, [], T0);
    const pairs = liveCookies(set).split('; ');
    assert.ok(pairs.length >= 1);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: pairs.length - 1 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        async (which, at, byte) => {
          const pair = pairs[which]!;
          const eq = pair.indexOf('=');
          const value = pair.slice(eq + 1);
          const pos = at % value.length;
          if (value.charCodeAt(pos) === byte) return;
          const mutated = `${value.slice(0, pos)}${String.fromCharCode(byte)}${value.slice(pos + 1)}`;
          const header = pairs.map((p, i) => (i === which ? `${p.slice(0, eq)}=${mutated}` : p)).join('; ');
          const read = await codec.read(header, T0);
          // A ';' or ',' may split the value; whatever the parser sees, it is never a session.
          assert.equal(read.session, undefined);
          assert.ok(read.reason === 'session_invalid', `reason ${read.reason}`);
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it('property: arbitrary Cookie headers never throw and never yield a session', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc
            .array(
              fc.tuple(
                fc.constantFrom('gatehouse', 'gatehouse.0', 'gatehouse.1', 'gatehouse.01', 'other'),
                fc.oneof(fc.string({ maxLength: 200 }), fc.constant('Fe26.2*1*aa*bb*cc**dd*ee~2')),
              ),
              { maxLength: 12 },
            )
            .map((ps) => ps.map(([n, v]) => `${n}=${v}`).join('; ')),
        ),
        async (header) => {
          const read = await codec.read(header, T0);
          assert.equal(read.session, undefined);
        },
      ),
      { seed: 12, numRuns: 400 },
    );
  });
});
