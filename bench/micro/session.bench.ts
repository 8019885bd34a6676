/**
 * Session cookie → identity, each case next to its reference:
 *   raw AES-256-GCM decrypt + JSON.parse of the same session (the floor for "decrypt a cookie")
 *   → iron `unsealData` alone (what iron-session costs: PBKDF2 key derivation, AES-CBC, HMAC)
 *   → our cold read (no cache: cookie parse, chunk assembly, SHA-256 cache key, unseal, shape
 *     check, expiry) + identity built from the claims
 *   → our warm read (cache hit: one SHA-256 and a map lookup) + the memoised identity.
 * Run: node_modules/.bin/node bench/micro/session.bench.ts
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { unsealData } from 'iron-session';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { parseConfig } from '../../src/config/load.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { identityFromClaims } from '../../src/policy/identity-from-claims.ts';
import { createRoleMapper } from '../../src/policy/roles.ts';
import { createSessionCodec } from '../../src/session/cookie-codec.ts';
import { secretId } from '../../src/session/seal.ts';
import type { SessionData } from '../../src/session/session-data.ts';
import { benchConfigYaml, benchSession } from '../lib/fixtures.ts';

const ISSUER = 'http://127.0.0.1:1';
const { config } = parseConfig(
  benchConfigYaml({
    listen: '127.0.0.1:0',
    admin: '127.0.0.1:0',
    upstream: 'http://127.0.0.1:1',
    keyServer: { origin: ISSUER, jwksUri: `${ISSUER}/jwks` },
  }),
  'bench.yaml',
  { env: {}, readFile: () => '' },
);
const mapper = createRoleMapper(config.roles);
const codecOptions = { session: config.session!, secure: false, log: silentLog };
const cold = createSessionCodec({ ...codecOptions, cacheSize: 0 });
const warm = createSessionCodec({ ...codecOptions, cacheSize: 1000 });

const session = benchSession(ISSUER);
const cookie = (await warm.write(session)).map((c) => c.split(';', 1)[0]).join('; ');
const sealed = cookie.slice(cookie.indexOf('=') + 1);

/** identify.ts: the identity is memoised per (cached, frozen) session object. */
const memo = new WeakMap<SessionData, Identity>();
const toIdentity = (s: SessionData): Identity =>
  identityFromClaims(
    { ...s.claims },
    { authType: 'session', mapper, expiresAt: s.createdAt + 43_200, iss: s.iss },
  );
function memoised(s: SessionData): Identity {
  let id = memo.get(s);
  if (!id) {
    id = toIdentity(s);
    memo.set(s, id);
  }
  return id;
}

// The reference: the same JSON under AES-256-GCM with a ready key.
const json = JSON.stringify(session);
const key = randomBytes(32);
const iv = randomBytes(12);
const cipher = createCipheriv('aes-256-gcm', key, iv);
const ciphertext = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
const tag = cipher.getAuthTag();
function rawDecrypt(): unknown {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAuthTag(tag);
  return JSON.parse(Buffer.concat([d.update(ciphertext), d.final()]).toString('utf8'));
}

// Sanity: every path must open the cookie, or the numbers mean nothing.
const ironPassword = { [secretId(config.session!.secrets[0]!)]: config.session!.secrets[0]! };
if ((rawDecrypt() as SessionData).id !== session.id) throw new Error('raw decrypt failed');
if (!(await unsealData(sealed, { password: ironPassword }))) throw new Error('iron unseal failed');
for (const codec of [cold, warm]) {
  const read = await codec.read(cookie);
  if (!read.session || read.reason) throw new Error(`session read failed: ${read.reason}`);
}

summary(() => {
  group('session cookie → identity', () => {
    bench('raw AES-256-GCM decrypt + JSON.parse', () => do_not_optimize(rawDecrypt()));
    bench('iron unsealData alone', async () =>
      do_not_optimize(await unsealData(sealed, { password: ironPassword })),
    );
    bench('gatehouse cold read (iron unseal) + identity', async () => {
      const read = await cold.read(cookie);
      do_not_optimize(toIdentity(read.session!));
    });
    bench('gatehouse warm read (cache hit) + identity', async () => {
      const read = await warm.read(cookie);
      do_not_optimize(memoised(read.session!));
    });
  });
});

await run();
