/**
 * Issue 18: OAuth Protected Resource Metadata (RFC 9728). An agent refused with a 401 follows
 * the challenge's `resource_metadata` to the route's document, from there to its
 * authorization server's discovery, gets a token and is let in – the discovery walk an MCP
 * client makes. Paths no bearer route covers, and routes that opt out, are left to routing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { stringify } from 'yaml';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { clientCredentialsToken } from '../helpers/dpop.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

describe('issue-18: protected resource metadata (RFC 9728)', () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;

  before(async () => {
    idp = await startDevIdp();
    echo = await startEchoUpstream();
    const issuer = { issuer: idp.issuer, audiences: ['api://demo'], algorithms: ['ES256', 'RS256'] };
    gh = await startTestGatehouse(
      stringify({
        bearer: [{ ...issuer, dpop: 'allowed' }],
        routes: [
          {
            name: 'agents',
            match: { path: '/agents' },
            upstream: echo.url,
            auth: ['bearer'],
            policy: { allow: [{ scopes: ['api:read'] }] },
          },
          {
            name: 'mcp',
            match: { path: '/mcp' },
            upstream: echo.url,
            auth: ['bearer'],
            resource_metadata: false,
            policy: { allow: [{ authenticated: true }] },
          },
          { name: 'site', match: { path: '/' }, upstream: echo.url, policy: 'public' },
        ],
      }),
    );
  });
  after(async () => {
    await gh?.close();
    await Promise.all([echo?.close(), idp?.close()]);
  });

  it('walks 401 → resource metadata → the issuer’s discovery → a token → 200', async () => {
    const refused = await get(`${gh.url}/agents/run`, { accept: 'application/json' });
    assert.equal(refused.status, 401);
    const challenge = String(refused.headers['www-authenticate']);
    const url = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    assert.equal(url, `${gh.url}/.well-known/oauth-protected-resource/agents`, challenge);

    const doc = await get(url!);
    assert.equal(doc.status, 200);
    assert.match(String(doc.headers['content-type']), /^application\/json/);
    const meta = JSON.parse(doc.text);
    assert.deepEqual(meta, {
      resource: `${gh.url}/agents`, // exactly the identifier the well-known URL was made from
      authorization_servers: [idp.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['api:read'],
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      dpop_bound_access_tokens_required: false,
    });
    assert.equal(
      echo.requests.some((r) => r.url.includes('oauth-protected-resource')),
      false,
    );

    const discovery = JSON.parse(
      (await get(`${meta.authorization_servers[0]}/.well-known/openid-configuration`)).text,
    );
    assert.equal(discovery.issuer, idp.issuer);
    assert.ok(discovery.token_endpoint);
    const token = await clientCredentialsToken(idp);
    const allowed = await get(`${gh.url}/agents/run`, { authorization: `Bearer ${token}` });
    assert.equal(allowed.status, 200, allowed.text);
  });

  it('a bad token’s 401 names the metadata too, beside error="invalid_token"', async () => {
    const res = await get(`${gh.url}/agents/run`, { authorization: 'Bearer not.a.token' });
    assert.equal(res.status, 401);
    const challenges = [res.headers['www-authenticate']].flat().join(' | ');
    assert.match(challenges, /Bearer realm="gatehouse", error="invalid_token".*resource_metadata="/);
  });

  it('leaves other paths to routing: a route that opts out, a public route, other methods', async () => {
    const optedOut = await get(`${gh.url}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(optedOut.status, 200, 'routed to the public site route');
    assert.equal(JSON.parse(optedOut.text).url, '/.well-known/oauth-protected-resource/mcp');
    const mcp401 = await get(`${gh.url}/mcp/x`, { accept: 'application/json' });
    assert.equal(mcp401.status, 401);
    assert.doesNotMatch(String(mcp401.headers['www-authenticate']), /resource_metadata/);
    const bare = await get(`${gh.url}/.well-known/oauth-protected-resource`);
    assert.equal(JSON.parse(bare.text).url, '/.well-known/oauth-protected-resource', 'no bearer route at /');
    const look = await get(`${gh.url}/.well-known/oauth-protected-resource-x/agents`);
    assert.equal(JSON.parse(look.text).url, '/.well-known/oauth-protected-resource-x/agents');
  });

  it('a Host that cannot be quoted as it is gets no resource_metadata', async () => {
    const res = await request(`${gh.url}/agents/run`, {
      headers: { host: 'evil"host', accept: 'application/json' },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 401);
    assert.doesNotMatch(String(res.headers['www-authenticate']), /resource_metadata/);
  });
});
