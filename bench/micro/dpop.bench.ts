/**
 * A warm DPoP decision against a warm bearer decision and its floor: `check` on the bench
 * config with `dpop: allowed`, for a plain bearer token and for a DPoP-bound one (`cnf.jkt`) with
 * a fresh ES256 proof per request (made outside the timed part: signing is the client's cost).
 * Warm: the token is a verified-token cache hit, the proof key's import an LRU hit, so the
 * difference is one proof signature check, two SHA-256 and the (memory) replay claim.
 * References: one raw ES256 `crypto.verify`; jose `compactVerify` of the proof with its key.
 * Run: node_modules/.bin/node bench/micro/dpop.bench.ts
 */
import { createHash, createPublicKey, randomUUID, verify } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { compactVerify, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { parseConfig } from '../../src/config/load.ts';
import { parseRequestTarget } from '../../src/http/request-target.ts';
import { check } from '../../src/pipeline/check.ts';
import { credentialsOf } from '../../src/pipeline/identify.ts';
import { createScope } from '../../src/pipeline/scope.ts';
import { jwkThumbprint } from '../../src/tokens/dpop-proof.ts';
import {
  AUDIENCE,
  BEARER_ISSUER,
  benchConfigYaml,
  benchRuntime,
  fakeRequestMaker,
  mintToken,
  startKeyServer,
} from '../lib/fixtures.ts';

const keyServer = await startKeyServer();
const yaml = benchConfigYaml({
  listen: '127.0.0.1:8080',
  admin: '127.0.0.1:0',
  upstream: 'http://127.0.0.1:9000',
  keyServer,
}).replace(
  '    algorithms: [RS256, ES256, EdDSA]\n',
  '    algorithms: [RS256, ES256, EdDSA]\n    dpop: allowed\n',
);
if (!yaml.includes('dpop: allowed')) throw new Error('the bench config changed: dpop not enabled');
const loaded = parseConfig(yaml, 'bench.yaml', { env: {}, readFile: () => '' });
const { rt, close: closeRuntime } = await benchRuntime(loaded);

// The agent's proof key and a token bound to it.
const agent = await generateKeyPair('ES256', { extractable: true });
const agentJwk = await exportJWK(agent.publicKey);
const jkt = jwkThumbprint(agentJwk as Record<string, unknown>)!;
const idpKey = keyServer.keys.ES256;
const now = Math.floor(Date.now() / 1000);
const bound = await new SignJWT({
  sub: 'bench-user',
  client_id: 'bench-client',
  scope: 'api:read',
  groups: ['Engineering'],
  cnf: { jkt },
})
  .setProtectedHeader({ alg: idpKey.alg, kid: idpKey.kid, typ: 'at+jwt' })
  .setIssuer(BEARER_ISSUER)
  .setAudience(AUDIENCE)
  .setIssuedAt(now)
  .setExpirationTime(now + 3600)
  .sign(idpKey.privateKey);
const plain = await mintToken(idpKey);
const ath = createHash('sha256').update(bound).digest('base64url');
const URL_PATH = '/app/orders/42';
const HTU = `http://app.example.com${URL_PATH}`;

/** Fresh proofs, made ahead: each is good once (the replay cache refuses a second use). */
const POOL = 20_000;
const proofs: string[] = [];
for (let i = 0; i < POOL; i++)
  proofs.push(
    await new SignJWT({ htm: 'GET', htu: HTU, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ath })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: agentJwk })
      .sign(agent.privateKey),
  );
let next = 0;

const lines = [
  ['Host', 'app.example.com'],
  ['Accept', 'application/json'],
] as const;
const bearerRequest = fakeRequestMaker(`${URL_PATH}?expand=items`, [
  ...lines,
  ['Authorization', `Bearer ${plain}`],
]);
function dpopRequest(): IncomingMessage {
  const proof = proofs[next++ % POOL]!; // wraps only after POOL calls; see the sanity check below
  return fakeRequestMaker(`${URL_PATH}?expand=items`, [
    ...lines,
    ['Authorization', `DPoP ${bound}`],
    ['DPoP', proof],
  ])();
}

async function decide(req: IncomingMessage): Promise<string> {
  const scope = createScope(req, rt.isTrustedProxy);
  scope.target = parseRequestTarget(req.url);
  const verdict = await check(scope, credentialsOf(req), rt);
  if (verdict.outcome !== 'allow') return verdict.reason;
  return scope.identity?.binding ?? scope.identity?.authType ?? 'none';
}

// Sanity and warm-up: both must be allowed, the DPoP one as a proven binding.
if ((await decide(bearerRequest())) !== 'bearer') throw new Error('bearer decision not allowed');
if ((await decide(dpopRequest())) !== 'dpop') throw new Error('DPoP decision not allowed');

const [h, p, s] = bound.split('.') as [string, string, string];
const signingInput = Buffer.from(`${h}.${p}`);
const signature = Buffer.from(s, 'base64url');
const es256 = {
  key: createPublicKey({ key: idpKey.publicJwk as never, format: 'jwk' }),
  dsaEncoding: 'ieee-p1363' as const,
};
if (!verify('sha256', signingInput, es256, signature)) throw new Error('raw verify failed');
const agentKey = await importJWK(agentJwk, 'ES256');
const sample = proofs[0]!;

let refused = 0;
summary(() => {
  group('DPoP decision (warm, in process)', () => {
    bench('raw crypto.verify ES256 (reference)', () =>
      do_not_optimize(verify('sha256', signingInput, es256, signature)),
    );
    bench('jose compactVerify of a proof', async () =>
      do_not_optimize(await compactVerify(sample, agentKey, { algorithms: ['ES256'] })),
    );
    bench('decision: warm bearer (ES256)', async () => do_not_optimize(await decide(bearerRequest())));
    bench('decision: warm DPoP (ES256 token + ES256 proof)', async () => {
      const r = await decide(dpopRequest());
      if (r !== 'dpop') refused++;
      do_not_optimize(r);
    });
  });
});

await run();
// More iterations than proofs replays old ones: those answer dpop_proof_replayed, a cheaper path.
if (refused > 0)
  process.stderr.write(`dpop.bench: ${refused} DPoP decisions were refused (pool exhausted)\n`);
await closeRuntime();
await keyServer.close();
