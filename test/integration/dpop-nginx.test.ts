/**
 * DPoP behind nginx `auth_request` with the shipped snippets: the proof's `htu` must be the URL
 * the client used at nginx (the original request, from X-Original-URI / X-Forwarded-Host /
 * X-Forwarded-Proto), never the `/.gatehouse/auth` subrequest's own URL; `htm` the original method.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { stringify } from 'yaml';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { clientCredentialsToken, type DpopKey, dpopKey, proof } from '../helpers/dpop.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { NGINX_CONFIG_DIR, nginxSkip, startNginx, type TestNginx, templateSite } from '../helpers/nginx.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

describe('DPoP through nginx auth_request', { skip: nginxSkip() }, () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;
  let nginx: TestNginx;
  let base: string;
  let key: DpopKey;
  let token: string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp();
    echo = await startEchoUpstream();
    gh = await startTestGatehouse(
      stringify({
        server: { trusted_proxies: ['127.0.0.1/32'] },
        bearer: [
          { issuer: idp.issuer, audiences: ['api://demo'], algorithms: ['ES256', 'RS256'], dpop: 'required' },
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
    const site = templateSite(readFileSync(join(NGINX_CONFIG_DIR, 'site.example.conf'), 'utf8'), {
      listen: port,
      gatehouse: gh.gh.publicAddress.port,
      app: echo.port,
    });
    nginx = await startNginx({ sites: [site], ports: [port] });
    key = await dpopKey('ES256');
    token = await clientCredentialsToken(idp, key);
  });
  after(async () => {
    await nginx?.close();
    await gh?.close();
    await Promise.all([echo?.close(), idp?.close()]);
  });

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
