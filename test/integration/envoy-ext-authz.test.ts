/**
 * Envoy's ext_authz filter in HTTP service mode, as its proto documents the check request: the
 * original method, the original `Host`, the original path (query included) behind
 * `path_prefix: /.gatehouse/ext_authz`, and the headers `allowed_headers` lists. No Envoy binary
 * exists here, so the check requests are sent exactly as Envoy sends them, from a trusted peer.
 * @see https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/http/ext_authz/v3/ext_authz.proto
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { IDENTITY_HEADERS } from '../../src/identity/headers.ts';
import { idpBearer, route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { machineToken } from './bearer-helpers.ts';

const PREFIX = '/.gatehouse/ext_authz';
const HOST = 'app.example.test';

describe('Envoy ext_authz (HTTP service)', () => {
  let idp: DevIdp;
  let gh: TestGatehouse;
  let untrusting: TestGatehouse;
  let token: string;

  before(async () => {
    const port = await freePort();
    idp = await startDevIdp({ redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`] });
    const config = (trusted: string[]) =>
      testConfig({
        idp,
        server: { trusted_proxies: trusted },
        bearer: [idpBearer(idp, { algorithms: ['ES256'], typ: 'at+jwt' })],
        roles: { claims: ['groups'], map: { admins: 'admin' } },
        routes: [
          route('public', '/public', 'http://127.0.0.1:9', { policy: 'public' }),
          route('admin', '/admin', 'http://127.0.0.1:9', { policy: { allow: [{ roles: ['admin'] }] } }),
          route('app', '/', 'http://127.0.0.1:9'),
        ],
      });
    gh = await startTestGatehouse(config(['127.0.0.1/32']), { port });
    untrusting = await startTestGatehouse(config([]));
    await gh.ready();
    token = await machineToken(idp);
  });
  after(async () => {
    await gh?.close();
    await untrusting?.close();
    await idp?.close();
  });

  /** One check request the way Envoy sends it. */
  const checkRequest = async (
    target: string,
    opts: { method?: string; headers?: Record<string, string>; via?: TestGatehouse } = {},
  ) => {
    const res = await request(`${(opts.via ?? gh).url}${PREFIX}${target}`, {
      method: (opts.method ?? 'GET') as 'GET',
      headers: { host: HOST, 'x-forwarded-proto': 'https', 'content-length': '0', ...opts.headers },
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };

  it('allows a bearer token: 200 with the identity headers for allowed_upstream_headers', async () => {
    const res = await checkRequest('/app/orders?id=7', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-auth-request-user'], 'machine');
    assert.match(String(res.headers['x-gatehouse-assertion']), /^ey/);
    const audit = await gh.auditLine((l) => l.path === '/app/orders' && l.decision === 'allow');
    assert.equal(audit.route, 'app');
    assert.equal(audit.sub, 'machine');
  });

  it('answers every identity header, empty when absent, so a client copy is overwritten', async () => {
    const res = await checkRequest('/public/app.js', { headers: { 'x-auth-request-user': 'admin' } });
    assert.equal(res.status, 200);
    for (const name of IDENTITY_HEADERS) assert.equal(res.headers[name], '', name);
    assert.equal(res.headers['x-gatehouse-assertion'], '');
  });

  it('sends a browser navigation to sign in, returning to the original https URL', async () => {
    const res = await checkRequest('/app/orders?id=7&x=1', {
      headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' },
    });
    assert.equal(res.status, 302);
    const location = new URL(String(res.headers.location));
    assert.equal(location.pathname, '/.gatehouse/start');
    assert.equal(location.searchParams.get('rd'), `https://${HOST}/app/orders?id=7&x=1`);
  });

  it('answers an API caller 401 with WWW-Authenticate, a denied one 403', async () => {
    const anonymous = await checkRequest('/app/x', { headers: { accept: 'application/json' } });
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Bearer realm="gatehouse"/);
    assert.equal(JSON.parse(anonymous.text).error, 'no_credentials');
    const denied = await checkRequest('/admin/users', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(denied.status, 403);
    assert.match(String(denied.headers['www-authenticate']), /insufficient_scope/);
  });

  it('decides with the original method', async () => {
    const head = await checkRequest('/app/x', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(head.status, 200);
    const line = await gh.auditLine((l) => l.method === 'POST' && l.path === '/app/x');
    assert.equal(line.decision, 'allow');
  });

  it('refuses an encoded separator in the original path, and a peer it does not trust', async () => {
    const trick = await checkRequest('/public/..%2fadmin/users');
    assert.equal(trick.status, 400);
    const direct = await checkRequest('/public/x', { via: untrusting });
    assert.equal(direct.status, 403);
    assert.equal(JSON.parse(direct.text).error, 'route_not_found');
  });
});

describe('config/envoy', () => {
  /** Every string in a parsed YAML value, depth first. */
  const strings = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : [];
  const docs = (file: string) =>
    parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as unknown);

  it('the Envoy snippet asks the endpoint this suite tests and copies every identity header', () => {
    const text = strings(docs('config/envoy/envoy.yaml'));
    assert.ok(text.includes(PREFIX), 'path_prefix');
    assert.ok(text.includes('x-auth-request-') && text.includes('x-gatehouse-assertion'));
    assert.ok(IDENTITY_HEADERS.every((h) => h.startsWith('x-auth-request-')));
    for (const h of ['cookie', 'accept', 'sec-fetch-mode', 'x-forwarded-proto'])
      assert.ok(text.includes(h), h);
  });

  it("the Istio provider does the same, and the policy spares Gatehouse's own paths", () => {
    const [mesh, policy] = docs('config/envoy/istio.yaml') as [Record<string, never>, Record<string, never>];
    const text = strings(mesh);
    assert.ok(text.includes(PREFIX));
    assert.ok(text.includes('x-auth-request-*') && text.includes('x-gatehouse-assertion'));
    assert.ok(strings(policy).includes('/.gatehouse/*'));
  });
});
