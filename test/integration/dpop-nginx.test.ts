/**
 * DPoP behind nginx `auth_request` with the shipped snippets: the proof's `htu` must be the URL
 * the client used at nginx (the original request, from X-Original-URI / X-Forwarded-Host /
 * X-Forwarded-Proto), never the `/.gatehouse/auth` subrequest's own URL; `htm` the original method.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { stringify } from 'yaml';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { clientCredentialsToken, type DpopKey, dpopKey, proof } from '../helpers/dpop.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { nginxSkip, shippedSite, startNginx, type TestNginx } from '../helpers/nginx.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

interface World {
  idp: DevIdp;
  echo: EchoUpstream;
  gh: TestGatehouse;
  nginx: TestNginx;
  base: string;
}

/** A dev IdP, an echo upstream, Gatehouse with a DPoP-required issuer, and nginx in front. */
async function startWorld(nonce: boolean): Promise<World> {
  const port = await freePort();
  const idp = await startDevIdp();
  const echo = await startEchoUpstream();
  const issuer = { issuer: idp.issuer, audiences: ['api://demo'], algorithms: ['ES256', 'RS256'] };
  const gh = await startTestGatehouse(
    stringify({
      server: { trusted_proxies: ['127.0.0.1/32'] },
      bearer: [
        {
          ...issuer,
          dpop: 'required',
          ...(nonce
            ? { dpop_nonce: true, dpop_nonce_secrets: ['dpop-nginx-nonce-secret-0123456789abcdef'] }
            : {}),
        },
      ],
      routes: [
        {
          name: 'agents',
          match: { path: '/agents' },
          upstream: echo.url,
          auth: ['bearer'],
          policy: { allow: [{ auth_types: ['dpop'] }] },
        },
      ],
    }),
  );
  const site = shippedSite({
    listen: port,
    gatehouse: gh.gh.publicAddress.port,
    app: echo.port,
  });
  const nginx = await startNginx({ sites: [site], ports: [port] });
  return { idp, echo, gh, nginx, base: `http://127.0.0.1:${port}` };
}

async function stopWorld(w: World | undefined): Promise<void> {
  await w?.nginx.close();
  await w?.gh.close();
  await Promise.all([w?.echo.close(), w?.idp.close()]);
}

describe('DPoP through nginx auth_request', { skip: nginxSkip() }, () => {
  let w: World;
  let echo: EchoUpstream;
  let gh: TestGatehouse;
  let base: string;
  let key: DpopKey;
  let token: string;

  before(async () => {
    w = await startWorld(false);
    ({ echo, gh, base } = w);
    key = await dpopKey('ES256');
    token = await clientCredentialsToken(w.idp, key);
  });
  after(() => stopWorld(w));

  async function call(path: string, dpop: string, method = 'GET') {
    const res = await request(`${base}${path}`, {
      method: method as 'GET',
      headers: { authorization: `DPoP ${token}`, dpop, accept: 'application/json' },
    });
    await res.body.dump();
    return res.statusCode;
  }

  it('a proof for the URL the client used at nginx passes', async () => {
    const seen = echo.requests.length;
    const p = await proof(key, 'GET', `${base}/agents/run`, { accessToken: token });
    assert.equal(await call('/agents/run?task=7', p), 200);
    assert.equal(echo.requests.length, seen + 1, 'nginx forwarded the allowed request');
  });

  it('the original method counts: a POST needs htm POST', async () => {
    const p = await proof(key, 'POST', `${base}/agents/run`, { accessToken: token });
    assert.equal(await call('/agents/run', p, 'POST'), 200);
    const wrong = await proof(key, 'GET', `${base}/agents/run`, { accessToken: token });
    assert.equal(await call('/agents/run', wrong, 'POST'), 401);
  });

  it("a proof for the subrequest's URL or for Gatehouse's own address is refused", async () => {
    const sub = await proof(key, 'GET', `${base}/.gatehouse/auth`, { accessToken: token });
    assert.equal(await call('/agents/run', sub), 401);
    const direct = await proof(key, 'GET', `${gh.url}/agents/run`, { accessToken: token });
    assert.equal(await call('/agents/run', direct), 401);
    const line = await gh.auditLine((l) => l.reason === 'dpop_proof_invalid');
    assert.equal(line.path, '/agents/run');
  });
});

describe('DPoP server nonces through nginx auth_request', { skip: nginxSkip() }, () => {
  let w: World;
  after(() => stopWorld(w));

  it('the 401 asking for a nonce reaches the client with DPoP-Nonce; the retry with it passes', async () => {
    w = await startWorld(true);
    const key = await dpopKey('ES256');
    const token = await clientCredentialsToken(w.idp, key);
    const url = `${w.base}/agents/run`;
    const send = async (dpop: string) => {
      const res = await request(url, { headers: { authorization: `DPoP ${token}`, dpop } });
      await res.body.dump();
      return res;
    };
    const first = await send(await proof(key, 'GET', url, { accessToken: token }));
    assert.equal(first.statusCode, 401);
    assert.match(String(first.headers['www-authenticate']), /^DPoP error="use_dpop_nonce"/);
    const nonce = first.headers['dpop-nonce'];
    assert.equal(typeof nonce, 'string', 'nginx passed DPoP-Nonce on');
    const retry = await send(await proof(key, 'GET', url, { accessToken: token, nonce: nonce as string }));
    assert.equal(retry.statusCode, 200);
    assert.equal(retry.headers['dpop-nonce'], undefined, 'no empty header on an allowed answer');
  });
});
