/**
 * Bearer verification cost, each case next to its reference:
 *   raw `crypto.verify` (the floor) → jose `jwtVerify` with a KeyObject → our cold verify (the
 *   verified-token cache disabled: structural parse, issuer pick, JWKS lookup, jose) → our warm
 *   verify (a cache hit: one SHA-256 and a map lookup, no crypto).
 * Run: node_modules/.bin/node bench/micro/bearer.bench.ts
 */
import { createPublicKey, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { bearerIssuerSchema } from '../../src/config/schema.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { createBearerVerifier } from '../../src/tokens/bearer-verifier.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';

const ISSUER = 'https://bench.example';
const ALGS = ['RS256', 'ES256', 'EdDSA'] as const;

const keys = await Promise.all(
  ALGS.map(async (alg) => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    return {
      alg,
      privateKey,
      publicKey,
      jwk: { ...(await exportJWK(publicKey)), alg, kid: alg.toLowerCase() },
    };
  }),
);

const server = createServer((_req, res) => {
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
const dispatcher = createOutboundDispatcher();
const issuer = bearerIssuerSchema.parse({
  issuer: ISSUER,
  audiences: ['api://bench'],
  algorithms: [...ALGS],
  jwks_uri: jwksUri,
});
const cold = createBearerVerifier({ issuers: [issuer], cacheSize: 0, dispatcher, log: silentLog });
const warm = createBearerVerifier({ issuers: [issuer], cacheSize: 1000, dispatcher, log: silentLog });
await cold.start();
await warm.start();

for (const k of keys) {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: 'bench', client_id: 'bench', scope: 'api:read' })
    .setProtectedHeader({ alg: k.alg, kid: k.jwk.kid, typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience('api://bench')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(k.privateKey);
  const [h, p, s] = token.split('.') as [string, string, string];
  const input = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const keyObject = createPublicKey({ key: k.jwk as never, format: 'jwk' });
  const joseKey = await importJWK(k.jwk, k.alg);
  const rawAlg = k.alg === 'EdDSA' ? null : 'sha256';
  // JWS ECDSA signatures are r||s (IEEE P1363), not DER.
  const rawOpts = k.alg === 'ES256' ? { key: keyObject, dsaEncoding: 'ieee-p1363' as const } : keyObject;
  // Sanity: every path must accept the token, or the numbers mean nothing.
  if (!verify(rawAlg, input, rawOpts, sig)) throw new Error(`${k.alg}: raw verify failed`);
  await jwtVerify(token, joseKey, { issuer: ISSUER, audience: 'api://bench' });
  await cold.verify(token);
  await warm.verify(token);

  group(k.alg, () => {
    summary(() => {
      bench(`${k.alg} crypto.verify (raw)`, () => do_not_optimize(verify(rawAlg, input, rawOpts, sig)));
      bench(`${k.alg} jose jwtVerify`, async () =>
        do_not_optimize(await jwtVerify(token, joseKey, { issuer: ISSUER, audience: 'api://bench' })),
      );
      bench(`${k.alg} gatehouse cold verify`, async () => do_not_optimize(await cold.verify(token)));
      bench(`${k.alg} gatehouse warm verify (cache hit)`, async () =>
        do_not_optimize(await warm.verify(token)),
      );
    });
  });
}

await run();
cold.close();
warm.close();
server.close();
await dispatcher.close();
