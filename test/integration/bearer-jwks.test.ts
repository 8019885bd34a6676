import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Dispatcher } from 'undici';
import { type DevIdp, generateIdpKeys, startDevIdp } from '../../src/demo/dev-idp.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { createBearerVerifier } from '../../src/tokens/bearer-verifier.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';
import { startJwksServer } from '../helpers/jwks-server.ts';
import {
  claims,
  issuerConfig,
  machineToken,
  recordingLog,
  rejectCode,
  signJwt,
  startServer,
  waitFor,
} from './bearer-helpers.ts';

const publicJwk = ({ d: _d, ...rest }: JWK): JWK => rest;

describe('JWKS cache against the dev IdP', () => {
  let dispatcher: Dispatcher;
  const idps: DevIdp[] = [];

  before(() => {
    dispatcher = createOutboundDispatcher({ timeoutMs: 1000 });
  });
  after(async () => {
    for (const idp of idps) await idp.close();
    await dispatcher.close();
  });

  it('loads lazily, and a burst of random kids fetches at most once per cooldown', async () => {
    const idp = await startDevIdp();
    idps.push(idp);
    const results: string[] = [];
    const verifier = createBearerVerifier({
      issuers: [issuerConfig({ issuer: idp.issuer, jwks: { cooldown: '1s' } })],
      cacheSize: 1000,
      dispatcher,
      log: silentLog,
      onJwksRefresh: (_issuer, result) => results.push(result),
    });
    after(() => verifier.close());
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const foreign = { ...(await exportJWK(privateKey)), alg: 'ES256' };
    // Signed up front, so the burst itself is fast and well inside the cooldown.
    const forged = () =>
      Promise.all(
        Array.from({ length: 200 }, () =>
          signJwt({ ...foreign, kid: randomBytes(8).toString('hex') }, claims(idp.issuer)),
        ),
      );
    const burst = async (tokens: string[]) => Promise.all(tokens.map((t) => rejectCode(verifier.verify(t))));
    const first = await forged();
    const second = await forged();

    // No start(): the first burst triggers the initial load, shared by all 200.
    const codes = await burst(first);
    assert.deepEqual(new Set(codes), new Set(['unknown_kid']));
    assert.equal(idp.hits.get('/jwks'), 1);
    assert.ok(results.includes('cooldown'));

    await new Promise((r) => setTimeout(r, 1050));
    assert.deepEqual(new Set(await burst(second)), new Set(['unknown_kid']));
    assert.equal(idp.hits.get('/jwks'), 2, 'one refetch after the cooldown');
    assert.equal(verifier.ready, true);
  });

  it('picks up a key rotation at the provider without restart', async () => {
    const first = await startDevIdp();
    const verifier = createBearerVerifier({
      issuers: [issuerConfig({ issuer: first.issuer, jwks: { cooldown: '200ms' } })],
      cacheSize: 0,
      dispatcher,
      log: silentLog,
    });
    after(() => verifier.close());
    await verifier.start();
    await verifier.verify(await machineToken(first));
    await first.close();

    const second = await startDevIdp({ port: first.port, keys: await generateIdpKeys() });
    idps.push(second);
    assert.equal(second.issuer, first.issuer);
    const rotated = await machineToken(second);
    await new Promise((r) => setTimeout(r, 250));
    const v = await verifier.verify(rotated);
    assert.equal(v.issuer, second.issuer);
    assert.equal(second.hits.get('/jwks'), 1);
  });

  it('keeps validating known tokens while the provider is down', async () => {
    const idp = await startDevIdp();
    const log = recordingLog();
    const results: string[] = [];
    const verifier = createBearerVerifier({
      // min_ttl 1ms: the background refresh runs after 1 s and fails
      issuers: [issuerConfig({ issuer: idp.issuer, jwks: { min_ttl: '1ms', cooldown: '1ms' } })],
      cacheSize: 100,
      dispatcher,
      log,
      onJwksRefresh: (_issuer, result) => results.push(result),
    });
    after(() => verifier.close());
    await verifier.start();
    const cached = await machineToken(idp);
    const uncached = await machineToken(idp);
    await verifier.verify(cached);
    await idp.close();

    await waitFor(() => results.includes('error'), 5000);
    const warn = log.entries.find((e) => e.level === 'warn');
    assert.ok(warn);
    assert.equal(warn.obj.issuer, idp.issuer);
    assert.equal(typeof warn.obj.reason, 'string');
    assert.ok(!JSON.stringify(log.entries).includes(cached.slice(-20)));

    assert.equal((await verifier.verify(cached)).claims.sub, 'machine');
    assert.equal((await verifier.verify(uncached)).claims.sub, 'machine');
    assert.equal(verifier.ready, true);
  });

  it('reports jwks_unavailable when no key set was ever loaded', async () => {
    const down = await startServer((_req, res) => res.writeHead(503).end());
    const log = recordingLog();
    const verifier = createBearerVerifier({
      issuers: [issuerConfig({ issuer: 'https://idp.example', jwks_uri: `${down.url}/jwks` })],
      cacheSize: 10,
      dispatcher,
      log,
    });
    after(() => verifier.close());
    after(() => down.close());
    await verifier.start();
    assert.equal(verifier.ready, false);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'k' };
    const token = await signJwt(jwk, claims('https://idp.example'));
    assert.equal(await rejectCode(verifier.verify(token)), 'jwks_unavailable');
    assert.equal(down.hits.get('/jwks'), 1, 'the request within the cooldown does not refetch');
    assert.match(String(log.entries[0]?.obj.reason), /HTTP 503/);
  });
});

describe('JWKS endpoint misbehaviour (local server)', () => {
  let dispatcher: Dispatcher;
  let keys: JWK[];
  let mode = 'ok';
  /** Cache-Control by path */
  const cacheControl = new Map<string, string>();
  let server: Awaited<ReturnType<typeof startServer>>;

  before(async () => {
    dispatcher = createOutboundDispatcher({ timeoutMs: 1000 });
    keys = await generateIdpKeys();
    server = await startServer((req, res) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const cc = cacheControl.get(req.url ?? '');
      if (cc) headers['cache-control'] = cc;
      const body: Record<string, string> = {
        ok: JSON.stringify({ keys: keys.map(publicJwk) }),
        garbage: '<html>oops',
        'not-jwks': '{"keys":"nope"}',
        empty: '{"keys":[]}',
        'private-only': JSON.stringify({ keys }),
        symmetric: JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'x' }] }),
        'broken-key': JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'x' }] }),
      };
      if (mode === '500') res.writeHead(500).end('{"keys":[]}');
      else res.writeHead(200, headers).end(body[mode]);
    });
  });
  after(async () => {
    await server.close();
    await dispatcher.close();
  });

  it('keeps the last good keys through 500, garbage and non-JWKS answers', async () => {
    mode = 'ok';
    const log = recordingLog();
    const results: string[] = [];
    const verifier = createBearerVerifier({
      issuers: [
        issuerConfig({
          issuer: 'https://idp.example',
          jwks_uri: `${server.url}/jwks`,
          jwks: { cooldown: '1ms' },
        }),
      ],
      cacheSize: 0,
      dispatcher,
      log,
      onJwksRefresh: (_issuer, result) => results.push(result),
    });
    after(() => verifier.close());
    await verifier.start();
    const good = await signJwt(keys[1]!, claims('https://idp.example'));
    const unknown = await signJwt({ ...keys[1]!, kid: 'rotated?' }, claims('https://idp.example'));
    await verifier.verify(good);

    for (const bad of ['500', 'garbage', 'not-jwks', 'empty', 'private-only', 'symmetric', 'broken-key']) {
      mode = bad;
      const fetches = server.hits.get('/jwks') ?? 0;
      await new Promise((r) => setTimeout(r, 2));
      assert.equal(await rejectCode(verifier.verify(unknown)), 'unknown_kid', bad);
      assert.equal(server.hits.get('/jwks'), fetches + 1, `${bad}: the unknown kid refetched`);
      assert.equal(results.at(-1), 'error', bad);
      assert.equal((await verifier.verify(good)).issuer, 'https://idp.example', `${bad}: old keys kept`);
    }
    assert.equal(log.entries.filter((e) => e.level === 'warn').length, 7);
    assert.ok(log.entries.every((e) => e.obj.issuer === 'https://idp.example'));
  });

  it('refreshes in the background by Cache-Control max-age, clamped to [min_ttl, max_ttl]', async () => {
    mode = 'ok';
    cacheControl.set('/clamped', 'public, max-age=86400');
    cacheControl.set('/floored', 'max-age=0');
    const verifier = createBearerVerifier({
      issuers: [
        issuerConfig({
          issuer: 'https://clamp.example',
          jwks_uri: `${server.url}/clamped`,
          jwks: { min_ttl: '10ms', max_ttl: '1200ms' },
        }),
        issuerConfig({
          issuer: 'https://floor.example',
          jwks_uri: `${server.url}/floored`,
          jwks: { min_ttl: '60s' },
        }),
      ],
      cacheSize: 0,
      dispatcher,
      log: silentLog,
    });
    after(() => verifier.close());
    await verifier.start();
    await waitFor(() => (server.hits.get('/clamped') ?? 0) >= 2, 4000);
    assert.equal(server.hits.get('/floored'), 1);
  });
});

describe('a token without kid (OpenID Connect Core §10.1)', () => {
  let dispatcher: Dispatcher;
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  /** private ES256 keys k1 and k2, and an RS256 key r1 */
  let k1: JWK;
  let k2: JWK;
  let r1: JWK;

  const privateKey = async (alg: 'ES256' | 'RS256', kid: string): Promise<JWK> => {
    const pair = await generateKeyPair(alg, { extractable: true });
    return { ...(await exportJWK(pair.privateKey)), alg, kid, use: 'sig' };
  };
  const publicOnly = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }: JWK): JWK => rest;

  before(async () => {
    dispatcher = createOutboundDispatcher({ timeoutMs: 1000 });
    [k1, k2, r1] = await Promise.all([
      privateKey('ES256', 'k1'),
      privateKey('ES256', 'k2'),
      privateKey('RS256', 'r1'),
    ]);
    jwks = await startJwksServer([]);
  });
  after(async () => {
    await jwks.close();
    await dispatcher.close();
  });

  /**
   * A verifier over the JWKS server publishing `keys`, loaded. The 1 ms cooldown lets any
   * request refetch, so a count of fetches shows what the key rule itself asked for.
   */
  async function verifierFor(keys: JWK[]) {
    jwks.setKeys(keys.map(publicOnly));
    const verifier = createBearerVerifier({
      issuers: [
        issuerConfig({
          issuer: jwks.issuer,
          jwks_uri: jwks.url,
          algorithms: ['ES256', 'RS256'],
          jwks: { cooldown: '1ms' },
        }),
      ],
      cacheSize: 100,
      dispatcher,
      log: silentLog,
    });
    after(() => verifier.close());
    await verifier.start();
    return verifier;
  }

  it('is refused with unknown_kid while several keys fit its alg, without a refetch', async () => {
    const verifier = await verifierFor([k1, k2, r1]);
    const fetches = jwks.hits();
    await new Promise((r) => setTimeout(r, 5));
    const kidless = await signJwt(k1, claims(jwks.issuer), { kid: undefined });
    await assert.rejects(verifier.verify(kidless), {
      name: 'GatehouseError',
      code: 'unknown_kid',
      message: 'the token has no "kid" and 2 keys of the JWK Set fit its "alg"',
    });
    assert.equal(jwks.hits(), fetches, 'another fetch cannot make the choice unambiguous');
    // the same key, named: accepted
    assert.equal((await verifier.verify(await signJwt(k1, claims(jwks.issuer)))).issuer, jwks.issuer);
  });

  it('is accepted while exactly one key fits its alg', async () => {
    const verifier = await verifierFor([k1, r1]);
    const kidless = await signJwt(k1, claims(jwks.issuer), { kid: undefined });
    assert.equal((await verifier.verify(kidless)).claims.sub, 'machine');
    const rsKidless = await signJwt(r1, claims(jwks.issuer), { kid: undefined });
    assert.equal((await verifier.verify(rsKidless)).claims.sub, 'machine');
  });

  it('a kid named by no key is still unknown_kid, after one refetch', async () => {
    const verifier = await verifierFor([k1]);
    const fetches = jwks.hits();
    await new Promise((r) => setTimeout(r, 5));
    const named = await signJwt({ ...k2, kid: 'k-unknown' }, claims(jwks.issuer));
    await assert.rejects(verifier.verify(named), {
      name: 'GatehouseError',
      code: 'unknown_kid',
      message: 'no key of the JWK Set fits the token\'s "kid" and "alg"',
    });
    assert.equal(jwks.hits(), fetches + 1, 'a kid not yet published may be a rotation: one refetch');
  });
});
