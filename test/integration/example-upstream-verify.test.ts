/**
 * The upstream example users copy (config/examples/upstream-verify.mjs) really verifies the
 * assertion Gatehouse signs, and refuses a request that did not come through Gatehouse.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { request } from 'undici';
import { route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { startJwksServer } from '../helpers/jwks-server.ts';
import { waitFor } from '../helpers/wait.ts';

describe('config/examples/upstream-verify.mjs', () => {
  let gh: TestGatehouse;
  let child: ReturnType<typeof spawn>;
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  let privateKey: CryptoKey;
  let upstreamPort: number;

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    jwks = await startJwksServer([
      { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' },
    ]);
    upstreamPort = await freePort();
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    child = spawn(
      process.execPath,
      [new URL('../../config/examples/upstream-verify.mjs', import.meta.url).pathname],
      {
        env: {
          ...process.env,
          GATEHOUSE_URL: publicUrl,
          UPSTREAM_ORIGIN: `http://127.0.0.1:${upstreamPort}`,
          PORT: String(upstreamPort),
        },
        stdio: 'ignore',
      },
    );
    gh = await startTestGatehouse(
      testConfig({
        server: { public_url: publicUrl },
        bearer: [
          { issuer: jwks.issuer, audiences: ['api://example'], algorithms: ['ES256'], jwks_uri: jwks.url },
        ],
        routes: [route('app', undefined, `http://127.0.0.1:${upstreamPort}`, { auth: ['bearer'] })],
      }),
      { port },
    );
    await waitFor(
      async () => {
        try {
          const r = await request(`http://127.0.0.1:${upstreamPort}/`);
          await r.body.dump();
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, what: 'the example upstream' },
    );
  });

  after(async () => {
    child?.kill();
    await gh?.close();
    await jwks?.close();
  });

  it('accepts a request through Gatehouse and refuses one that bypasses it', async () => {
    const token = await new SignJWT({ sub: 'svc-orders', email: 'orders@example.com' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(jwks.issuer)
      .setAudience('api://example')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const through = await request(`${gh.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(through.statusCode, 200);
    const body = (await through.body.json()) as { sub: string; auth_type: string };
    assert.deepEqual([body.sub, body.auth_type], ['svc-orders', 'bearer']);

    const direct = await request(`http://127.0.0.1:${upstreamPort}/orders`, {
      headers: { 'x-auth-request-user': 'svc-orders', 'x-gatehouse-assertion': 'forged.jwt.value' },
    });
    assert.equal(direct.statusCode, 401);
    await direct.body.dump();
  });
});
