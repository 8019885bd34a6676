/**
 * Certificate-bound access tokens (RFC 8705) and `client_certificate:` rules, with Gatehouse
 * terminating TLS: a throwaway PKI (two client CAs), tokens minted locally with `cnf.x5t#S256`,
 * and real TLS clients presenting the right certificate, another one from the same CA, one from
 * another CA, or none.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { stringify } from 'yaml';
import { createTestCa, type Issued } from '../helpers/certificates.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { type JwksServer, startJwksServer } from '../helpers/jwks-server.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { signJwt } from './bearer-helpers.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('mTLS-bound tokens and client certificate rules (Gatehouse terminates TLS)', () => {
  const serverCa = createTestCa('server-ca');
  const clientCa = createTestCa('client-ca');
  const otherCa = createTestCa('other-ca');
  const server = serverCa.issue('gatehouse', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1', { server: true });
  const agent1 = clientCa.issue(
    'agent-1',
    '/O=Example/CN=agent-1',
    'DNS:agent-1.example,URI:spiffe://example/agent-1',
  );
  const agent2 = clientCa.issue('agent-2', '/O=Example/CN=agent-2', 'DNS:agent-2.example');
  const impostor = otherCa.issue(
    'impostor',
    '/O=Example/CN=agent-1',
    'DNS:agent-1.example,URI:spiffe://example/agent-1',
  );

  let jwks: JwksServer;
  let key: JWK;
  let upstream: EchoUpstream;
  let gh: TestGatehouse;

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    key = { ...(await exportJWK(pair.privateKey)), alg: 'ES256', kid: 'k1' };
    const { d: _d, ...pub } = key;
    jwks = await startJwksServer([pub]);
    upstream = await startEchoUpstream();
    const r = (name: string, policy: unknown) => ({
      name,
      match: { path: `/${name}` },
      upstream: upstream.url,
      auth: ['bearer'],
      policy,
    });
    gh = await startTestGatehouse(
      stringify({
        server: {
          tls: {
            cert_file: server.certFile,
            key_file: server.keyFile,
            client_ca_file: clientCa.certFile,
            client_certificate: 'optional',
          },
        },
        bearer: [{ issuer: jwks.issuer, jwks_uri: jwks.url, audiences: ['api://agents'] }],
        routes: [
          r('api', { allow: [{ authenticated: true }] }),
          r('bound-only', { allow: [{ auth_types: ['mtls'] }] }),
          r('by-subject', { allow: [{ client_certificate: { subjects: ['CN=agent-1, O=Example'] } }] }),
          r('by-san', { allow: [{ client_certificate: { sans: ['URI:spiffe://example/agent-1'] } }] }),
          r('by-fingerprint', {
            allow: [
              {
                client_certificate: {
                  fingerprints: [agent2.fingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:')],
                },
              },
            ],
          }),
        ],
      }),
    );
  });
  after(async () => {
    await gh?.close();
    await upstream?.close();
    await jwks?.close();
  });

  const token = (cnf?: Record<string, unknown>) =>
    signJwt(key, {
      iss: jwks.issuer,
      sub: 'agent-1',
      aud: 'api://agents',
      client_id: 'agent-1',
      exp: Math.floor(Date.now() / 1000) + 300,
      ...(cnf ? { cnf } : {}),
    });

  const get = (path: string, client: Issued | undefined, bearer?: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: gh.gh.publicAddress.port,
          path,
          ca: serverCa.cert,
          ...(client ? { cert: client.cert, key: client.key } : {}),
          agent: false,
          headers: { accept: 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  const errorOf = (a: Answer) => (JSON.parse(a.body) as { error?: string }).error;

  test('a bound token with its own certificate passes, and counts as mtls for auth_types', async () => {
    const t = await token({ 'x5t#S256': agent1.thumbprint });
    const before = upstream.requests.length;
    assert.equal((await get('/api/x', agent1, t)).status, 200);
    assert.equal((await get('/bound-only/x', agent1, t)).status, 200);
    assert.equal(upstream.requests.length, before + 2);
  });

  test('the verified-token cache never carries a binding to another connection', async () => {
    // One token string, verified (and cached) on agent-1's connection, then replayed elsewhere.
    const t = await token({ 'x5t#S256': agent1.thumbprint });
    assert.equal((await get('/api/x', agent1, t)).status, 200);
    assert.equal(errorOf(await get('/api/x', agent2, t)), 'mtls_binding_mismatch');
    assert.equal(errorOf(await get('/api/x', impostor, t)), 'mtls_certificate_required');
    assert.equal(errorOf(await get('/api/x', undefined, t)), 'mtls_certificate_required');
    assert.equal((await get('/api/x', agent1, t)).status, 200, 'the owner still passes');
  });

  test('an unbound token without any certificate is a plain bearer token', async () => {
    const t = await token();
    assert.equal((await get('/api/x', undefined, t)).status, 200);
    assert.equal((await get('/bound-only/x', undefined, t)).status, 403);
  });

  test('an unbound token is no mtls token, even on a connection with a certificate', async () => {
    const t = await token();
    assert.equal((await get('/api/x', agent1, t)).status, 200);
    const res = await get('/bound-only/x', agent1, t);
    assert.equal(res.status, 403);
  });

  test('the bound token with another certificate of the same CA → 401 mtls_binding_mismatch', async () => {
    const res = await get('/api/x', agent2, await token({ 'x5t#S256': agent1.thumbprint }));
    assert.equal(res.status, 401);
    assert.equal(errorOf(res), 'mtls_binding_mismatch');
    assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
  });

  test('a certificate from another CA (same subject and SANs) → 401 mtls_certificate_required', async () => {
    // The impostor's own thumbprint in the token: the CA check, not the hash, refuses it.
    const res = await get('/api/x', impostor, await token({ 'x5t#S256': impostor.thumbprint }));
    assert.equal(res.status, 401);
    assert.equal(errorOf(res), 'mtls_certificate_required');
  });

  test('no certificate → 401 mtls_certificate_required; a malformed cnf → token_malformed', async () => {
    const res = await get('/api/x', undefined, await token({ 'x5t#S256': agent1.thumbprint }));
    assert.equal(res.status, 401);
    assert.equal(errorOf(res), 'mtls_certificate_required');
    const bad = await get('/api/x', agent1, await token({ 'x5t#S256': 'not-a-thumbprint' }));
    assert.equal(errorOf(bad), 'token_malformed');
  });

  test('client_certificate.subjects: the right DN passes (order aside), another or none is 403', async () => {
    const t = await token();
    assert.equal((await get('/by-subject/x', agent1, t)).status, 200);
    assert.equal((await get('/by-subject/x', agent2, t)).status, 403);
    assert.equal((await get('/by-subject/x', undefined, t)).status, 403);
    assert.equal((await get('/by-subject/x', impostor, t)).status, 403, 'an untrusted CA never matches');
  });

  test('client_certificate.sans and fingerprints', async () => {
    const t = await token();
    assert.equal((await get('/by-san/x', agent1, t)).status, 200);
    assert.equal((await get('/by-san/x', agent2, t)).status, 403);
    assert.equal((await get('/by-fingerprint/x', agent2, t)).status, 200);
    assert.equal((await get('/by-fingerprint/x', agent1, t)).status, 403);
  });
});

describe('server.tls.client_certificate: required', () => {
  test('the handshake fails without a trusted certificate, and passes with one', async () => {
    const serverCa = createTestCa('server-ca');
    const clientCa = createTestCa('client-ca');
    const server = serverCa.issue('gatehouse', '/CN=localhost', 'IP:127.0.0.1', { server: true });
    const agent = clientCa.issue('agent', '/CN=agent', 'DNS:agent.example');
    const upstream = await startEchoUpstream();
    const jwks = await startJwksServer([]);
    const gh = await startTestGatehouse(
      stringify({
        server: {
          tls: {
            cert_file: server.certFile,
            key_file: server.keyFile,
            client_ca_file: clientCa.certFile,
            client_certificate: 'required',
          },
        },
        bearer: [{ issuer: jwks.issuer, jwks_uri: jwks.url, audiences: ['api://agents'] }],
        routes: [
          {
            name: 'api',
            upstream: upstream.url,
            auth: ['bearer'],
            policy: { allow: [{ client_certificate: { subjects: ['CN=agent'] } }] },
          },
        ],
      }),
    );
    try {
      const attempt = (client?: Issued) =>
        new Promise<number | string>((resolve) => {
          const req = request(
            {
              host: '127.0.0.1',
              port: gh.gh.publicAddress.port,
              path: '/',
              ca: serverCa.cert,
              agent: false,
              ...(client ? { cert: client.cert, key: client.key } : {}),
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
          req.end();
        });
      // past the handshake, the pipeline answers (no token here: 401)
      assert.equal(await attempt(agent), 401);
      const refused = await attempt();
      assert.equal(typeof refused, 'string', `no certificate must fail the handshake, got ${refused}`);
    } finally {
      await gh.close();
      await upstream.close();
      await jwks.close();
    }
  });
});
