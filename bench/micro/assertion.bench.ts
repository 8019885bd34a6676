/**
 * The signed assertion on the hot path: what a cached `sign()` costs against signing every
 * request, plus the identity headers and the inbound stripper that run beside it.
 *
 * Run: node_modules/.bin/node bench/micro/assertion.bench.ts
 */
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { SignJWT } from 'jose';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { createAssertionSigner } from '../../src/identity/assertion.ts';
import { identityHeaders } from '../../src/identity/headers.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { loadSigningKeys } from '../../src/identity/signing-keys.ts';
import { createInboundStripper } from '../../src/identity/strip-inbound.ts';

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const keys = await loadSigningKeys(
  {
    header: 'X-Gatehouse-Assertion',
    algorithm: 'ES256',
    key: pem,
    previous_keys: [],
    ttl: 60_000,
    bind_request: false,
  },
  { warn: () => {} },
);
const common = { keys, issuer: 'https://app.example.com', ttlMs: 60_000, cacheSize: 10_000 };
const cached = createAssertionSigner({ ...common, bindRequest: false });
const bound = createAssertionSigner({ ...common, bindRequest: true });

const identity: Identity = Object.freeze({
  iss: 'https://idp.example.com',
  sub: '00u1abcd',
  email: 'ann@example.com',
  preferredUsername: 'ann',
  groups: Object.freeze(['Everyone', 'Engineering', 'Berlin', 'oncall', 'vpn-users']),
  roles: Object.freeze(['developer', 'viewer']),
  claims: {},
  authType: 'session' as const,
  expiresAt: 4_000_000_000,
});
/** The same identity rebuilt per request (no memo): what a fresh session unseal produces. */
const unfrozen = (): Identity => ({ ...identity, groups: [...identity.groups] });
const audience = 'http://127.0.0.1:9000';
const request = { method: 'GET', url: 'https://app.example.com/orders/7?x=1' };
await cached.sign(identity, audience);

const keyObject = createPrivateKey(pem);
const signingInput = Buffer.from(
  'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJnYXRlaG91c2UtYXNzZXJ0aW9uK2p3dCJ9.eyJzdWIiOiIwMHUxYWJjZCJ9',
);
const stripper = createInboundStripper({ assertionHeader: 'X-Gatehouse-Assertion' });
const inbound = {
  host: 'app.example.com',
  'user-agent': 'Mozilla/5.0',
  accept: 'text/html,application/xhtml+xml',
  'accept-language': 'en',
  'accept-encoding': 'gzip, br',
  cookie: 'a=1; gatehouse=xyz',
  'x-forwarded-for': '203.0.113.9',
  'x-request-id': 'abc',
};

summary(() => {
  group('assertion per request', () => {
    bench('cached sign (frozen identity)', async () =>
      do_not_optimize(await cached.sign(identity, audience)),
    );
    bench('cached sign (rebuilt identity)', async () =>
      do_not_optimize(await cached.sign(unfrozen(), audience)),
    );
    bench('raw crypto.sign ES256', () =>
      do_not_optimize(sign('sha256', signingInput, { key: keyObject, dsaEncoding: 'ieee-p1363' })),
    );
    bench('jose SignJWT ES256', async () =>
      do_not_optimize(
        await new SignJWT({ sub: identity.sub, groups: identity.groups })
          .setProtectedHeader({ alg: 'ES256', kid: keys.current.kid })
          .setIssuedAt()
          .setExpirationTime('60s')
          .sign(keys.current.key),
      ),
    );
    bench('bind_request sign (per request)', async () =>
      do_not_optimize(await bound.sign(identity, audience, request)),
    );
  });
});

group('beside it', () => {
  bench('identityHeaders', () => do_not_optimize(identityHeaders(identity)));
  bench('inbound stripper (8 clean headers)', () => {
    const h = { ...inbound };
    stripper(h);
    do_not_optimize(h);
  });
});

await run();
