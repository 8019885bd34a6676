/**
 * The whole in-process decision for one request, no network: a Runtime built by `buildRuntime`
 * from the bench config, then accept (scope) → parse target → endpoints check → `check` (route →
 * identify → authorize → identity headers + assertion) → strip inbound, on an
 * `IncomingMessage`-like object – exactly the stages `handleRequest` runs before `proxy.web`. Reference: one raw ES256
 * `crypto.verify`, the cost a cache-less proxy would pay per request at the very least.
 * Run: node_modules/.bin/node bench/micro/decision.bench.ts
 */
import { createPublicKey, verify } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { parseConfig } from '../../src/config/load.ts';
import { parseRequestTarget } from '../../src/http/request-target.ts';
import { check } from '../../src/pipeline/check.ts';
import { endpointName } from '../../src/pipeline/endpoints.ts';
import { credentialsOf } from '../../src/pipeline/identify.ts';
import { createScope } from '../../src/pipeline/scope.ts';
import {
  benchConfigYaml,
  benchRuntime,
  fakeRequestMaker,
  mintToken,
  sessionCookieHeader,
  startKeyServer,
} from '../lib/fixtures.ts';

const keyServer = await startKeyServer();
const loaded = parseConfig(
  benchConfigYaml({
    listen: '127.0.0.1:8080',
    admin: '127.0.0.1:0',
    upstream: 'http://127.0.0.1:9000',
    keyServer,
  }),
  'bench.yaml',
  { env: {}, readFile: () => '' },
);
const { rt, close: closeRuntime } = await benchRuntime(loaded);

const token = await mintToken(keyServer.keys.ES256);
const cookie = await sessionCookieHeader(keyServer.origin);
/** What a browser or API client sends, in wire order and case. */
const baseLines = [
  ['Host', 'app.example.com'],
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) bench'],
  ['Accept', 'application/json'],
  ['Accept-Encoding', 'gzip, br'],
  ['X-Auth-Request-User', 'spoofed'],
] as const;

/** handleRequest up to `proxy.web`; returns the headers that would go upstream. */
async function decide(req: IncomingMessage): Promise<Record<string, string>> {
  const scope = createScope(req, rt.isTrustedProxy);
  scope.target = parseRequestTarget(req.url);
  if (endpointName(scope.target.path, rt.prefix) !== undefined) throw new Error('unexpected endpoint');
  const verdict = await check(scope, credentialsOf(req), rt);
  if (verdict.outcome !== 'allow') throw new Error(`not allowed: ${verdict.reason}`);
  rt.stripInbound(req.headers);
  return verdict.headers;
}

const bearerRequest = fakeRequestMaker('/app/orders/42?expand=items', [
  ...baseLines,
  ['Authorization', `Bearer ${token}`],
]);
const sessionRequest = fakeRequestMaker('/app/orders/42?expand=items', [
  ...baseLines,
  ['Cookie', `theme=dark; ${cookie}`],
]);
const publicRequest = fakeRequestMaker('/public/app.js?v=3', baseLines);

// Sanity (and warm-up: the first call fills the token, session and assertion caches). A case
// whose decision fails is reported and left out, so the guard sees it missing, not fast.
const cases = { 'warm bearer (ES256)': bearerRequest, 'warm session cookie': sessionRequest };
const working: [string, () => IncomingMessage][] = [];
for (const [name, make] of Object.entries(cases)) {
  try {
    const headers = await decide(make());
    if (headers['x-auth-request-user'] !== 'bench-user' || !headers['x-gatehouse-assertion'])
      throw new Error('no identity headers');
    working.push([name, make]);
  } catch (err) {
    process.stderr.write(`decision.bench: "${name}" left out: ${(err as Error).message}\n`);
  }
}
await decide(publicRequest());

const [h, p, s] = token.split('.') as [string, string, string];
const signingInput = Buffer.from(`${h}.${p}`);
const signature = Buffer.from(s, 'base64url');
const es256 = {
  key: createPublicKey({ key: keyServer.keys.ES256.publicJwk as never, format: 'jwk' }),
  dsaEncoding: 'ieee-p1363' as const,
};
if (!verify('sha256', signingInput, es256, signature)) throw new Error('raw verify failed');

summary(() => {
  group('whole request decision (in process)', () => {
    bench('raw crypto.verify ES256 (reference)', () =>
      do_not_optimize(verify('sha256', signingInput, es256, signature)),
    );
    for (const [name, make] of working)
      bench(`decision: ${name}`, async () => do_not_optimize(await decide(make())));
    bench('decision: public route', async () => do_not_optimize(await decide(publicRequest())));
  });
});

await run();
await closeRuntime();
await keyServer.close();
