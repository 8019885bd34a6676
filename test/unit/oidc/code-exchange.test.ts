/**
 * ID token and token-endpoint failures a real provider will not produce on demand, served by a
 * tiny real OpenID Provider stand-in on 127.0.0.1 (discovery, JWKS, token endpoint) whose
 * token responses each test sets. Keys and tokens are real: signed with jose.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { importJWK, type JWK, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { oidcProviders } from '../../../src/config/providers.ts';
import { configSchema } from '../../../src/config/schema.ts';
import { generateIdpKeys } from '../../../src/demo/dev-idp.ts';
import type { GatehouseError } from '../../../src/errors.ts';
import { silentLog } from '../../../src/observe/logger.ts';
import { exchangeCode } from '../../../src/oidc/code-exchange.ts';
import { createOidcClient, type OidcClient } from '../../../src/oidc/oidc-client.ts';
import { createOutboundDispatcher } from '../../../src/util/outbound.ts';

describe('exchangeCode: reason codes for every failure', () => {
  let server: Server;
  let issuer: string;
  let keys: JWK[];
  let otherKeys: JWK[];
  let client: OidcClient;
  let oidc: ReturnType<typeof oidcProviders>[number];
  /** private keys whose public halves the JWKS endpoint serves; `keys` unless a test says */
  let published: JWK[];
  let jwksStatus = 200;
  const dispatcher = createOutboundDispatcher({ timeoutMs: 2000 });
  let reply: { status: number; body: string; type?: string } = { status: 500, body: '' };

  before(async () => {
    keys = await generateIdpKeys();
    otherKeys = await generateIdpKeys();
    published = keys;
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            issuer,
            authorization_endpoint: `${issuer}/auth`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${issuer}/jwks`,
            id_token_signing_alg_values_supported: ['RS256', 'ES256'],
          }),
        );
      } else if (path === '/jwks') {
        const pub = published.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }) => rest);
        res.writeHead(jwksStatus, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: pub }));
      } else if (path === '/token') {
        req.resume();
        res.writeHead(reply.status, { 'content-type': reply.type ?? 'application/json' }).end(reply.body);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    oidc = oidcProviders(
      configSchema.parse({
        oidc: { issuer, client_id: 'gatehouse', client_secret: 's', id_token_algorithms: ['RS256'] },
        routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', policy: 'public' }],
      }),
    )[0]!;
    client = createOidcClient({ oidc, dispatcher, log: silentLog });
    client.start();
    await client.whenReady();
  });
  after(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await dispatcher.close();
  });
  beforeEach(() => {
    reply = { status: 500, body: '' };
    published = keys;
    jwksStatus = 200;
  });

  async function idToken(
    claims: Record<string, unknown>,
    opts: { alg?: 'RS256' | 'ES256'; keySet?: JWK[]; withoutKid?: boolean } = {},
  ) {
    const alg = opts.alg ?? 'RS256';
    const jwk = (opts.keySet ?? keys).find((k) => k.alg === alg)!;
    const kid = opts.withoutKid ? undefined : keys.find((k) => k.alg === alg)!.kid!;
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      iss: issuer,
      aud: 'gatehouse',
      sub: 'alice',
      iat: now,
      exp: now + 300,
      nonce: 'n-1',
      ...claims,
    };
    return new SignJWT(payload).setProtectedHeader({ alg, kid }).sign(await importJWK(jwk, alg));
  }

  function tokens(id_token: string) {
    reply = {
      status: 200,
      body: JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token }),
    };
  }

  const run = (as = client.as!, c = client) =>
    exchangeCode(c, as, oauth.validateAuthResponse(as, c.client, new URLSearchParams({ code: 'c' })), {
      redirectUri: 'http://127.0.0.1/cb',
      verifier: 'v'.repeat(43),
      nonce: 'n-1',
      userinfo: false,
    });

  it('accepts a well-formed, correctly signed ID token', async () => {
    tokens(await idToken({ email: 'alice@example.com' }));
    const { claims, tokens: t } = await run();
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(t.access_token, 'at');
  });

  const failures: Array<[string, () => Promise<void>, string]> = [
    ['another nonce', async () => tokens(await idToken({ nonce: 'other' })), 'nonce_mismatch'],
    ['no nonce', async () => tokens(await idToken({ nonce: undefined })), 'id_token_invalid'],
    ['another audience', async () => tokens(await idToken({ aud: 'someone-else' })), 'id_token_invalid'],
    [
      'another issuer',
      async () => tokens(await idToken({ iss: 'https://evil.example' })),
      'id_token_invalid',
    ],
    [
      'expired beyond the clock skew',
      async () => tokens(await idToken({ exp: Math.floor(Date.now() / 1000) - 120 })),
      'id_token_invalid',
    ],
    ['a forged signature', async () => tokens(await idToken({}, { keySet: otherKeys })), 'id_token_invalid'],
    [
      'an algorithm not configured',
      async () => tokens(await idToken({}, { alg: 'ES256' })),
      'id_token_invalid',
    ],
    [
      'extra audiences without azp',
      async () => tokens(await idToken({ aud: ['gatehouse', 'other'] })),
      'id_token_invalid',
    ],
    [
      'an OAuth error',
      async () => {
        reply = { status: 400, body: JSON.stringify({ error: 'invalid_grant' }) };
      },
      'token_exchange_failed',
    ],
    [
      'an HTML error page',
      async () => {
        reply = { status: 502, body: '<html>bad gateway</html>', type: 'text/html' };
      },
      'token_exchange_failed',
    ],
    [
      'a response without an ID token',
      async () => {
        reply = { status: 200, body: JSON.stringify({ access_token: 'at', token_type: 'Bearer' }) };
      },
      'id_token_invalid',
    ],
  ];
  for (const [name, setup, code] of failures) {
    it(`${name} → ${code}`, async () => {
      await setup();
      await assert.rejects(run(), (err: { name: string; code: string }) => {
        assert.equal(err.name, 'GatehouseError');
        assert.equal(err.code, code);
        return true;
      });
    });
  }

  it('an unreachable token endpoint → idp_unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(run({ ...client.as!, token_endpoint: `http://127.0.0.1:${port}/token` }), {
      code: 'idp_unavailable',
    });
  });
  /** A client of its own, so its key set is fetched from `keys` (the shared one keeps its own). */
  async function clientPublishing(keySet: JWK[]): Promise<OidcClient> {
    published = keySet;
    const fresh = createOidcClient({ oidc, dispatcher, log: silentLog });
    after(() => fresh.close());
    fresh.start();
    await fresh.whenReady();
    return fresh;
  }
  const rs256 = (set: JWK[]) => set.find((k) => k.alg === 'RS256')!;

  it('an ID token without kid while the JWKS holds two RS256 keys → unknown_kid', async () => {
    const fresh = await clientPublishing([...keys, rs256(otherKeys)]);
    tokens(await idToken({}, { withoutKid: true }));
    await assert.rejects(run(fresh.as!, fresh), (err: GatehouseError) => {
      assert.equal(err.name, 'GatehouseError');
      assert.equal(err.code, 'unknown_kid');
      assert.equal(err.message, 'ID token signature check failed: unknown_kid');
      assert.deepEqual(err.cause, {
        name: 'GatehouseError',
        code: 'unknown_kid',
        message: 'the token has no "kid" and 2 keys of the JWK Set fit its "alg"',
      });
      return true;
    });
  });

  it('an ID token without kid while one RS256 key is published is accepted', async () => {
    const fresh = await clientPublishing(keys);
    tokens(await idToken({}, { withoutKid: true }));
    assert.equal((await run(fresh.as!, fresh)).claims.sub, 'alice');
  });

  it('an ID token whose kid the JWKS does not hold → unknown_kid', async () => {
    const fresh = await clientPublishing(otherKeys);
    tokens(await idToken({}));
    await assert.rejects(run(fresh.as!, fresh), { name: 'GatehouseError', code: 'unknown_kid' });
  });

  it('an IdP whose JWKS cannot be loaded → idp_unavailable', async () => {
    const fresh = await clientPublishing(keys);
    jwksStatus = 503;
    tokens(await idToken({}));
    await assert.rejects(run(fresh.as!, fresh), {
      name: 'GatehouseError',
      code: 'idp_unavailable',
    });
  });
});
