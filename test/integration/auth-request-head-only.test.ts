/**
 * issue-9: nginx reads only the head of an auth_request answer and keeps its connection to
 * Gatehouse only when no body follows. Every /auth answer to a trusted proxy – 202, 401, 403 –
 * has an explicit empty body, and the connection stays open across them.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { route, testConfig } from '../helpers/config.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { startJwksServer } from '../helpers/jwks-server.ts';
import { rawRequest } from '../helpers/raw-http.ts';

describe('/auth answers to a trusted proxy', () => {
  let gh: TestGatehouse;
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  before(async () => {
    jwks = await startJwksServer([]);
    gh = await startTestGatehouse(
      testConfig({
        server: { trusted_proxies: ['127.0.0.1/32'] },
        bearer: [{ issuer: jwks.issuer, audiences: ['api://x'], jwks_uri: jwks.url }],
        routes: [
          route('public', '/public', 'http://127.0.0.1:9', { policy: 'public' }),
          route('app', undefined, 'http://127.0.0.1:9'),
        ],
      }),
    );
  });
  after(async () => {
    await gh?.close();
    await jwks?.close();
  });

  it('sends 202, 401 and 403 without a body, on one kept-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    const ask = (uri: string, extra: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = request(
          `${gh.url}/.gatehouse/auth`,
          { agent, headers: { 'x-original-uri': uri, 'x-original-method': 'GET', ...extra } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          },
        );
        req.on('socket', (s) => s.once('connect', () => ports.add(s.localPort ?? 0)));
        req.on('error', reject);
        req.end();
      });
    const allowed = await ask('/public/x');
    const anonymous = await ask('/app/x');
    const badToken = await ask('/app/x', { authorization: 'Bearer not-a-jwt' });
    agent.destroy();
    assert.deepEqual([allowed.status, anonymous.status, badToken.status], [202, 401, 401]);
    for (const r of [allowed, anonymous, badToken]) {
      assert.equal(r.headers['content-length'], '0');
      assert.equal(r.headers['transfer-encoding'], undefined);
      assert.equal(r.body, '');
    }
    assert.match(String(badToken.headers['www-authenticate']), /error="invalid_token"/);
    assert.equal(ports.size, 1, 'one connection served all three answers');
  });

  it('refuses two descriptions of the original request (node would join them into one)', async () => {
    for (const name of ['X-Original-URI', 'X-Original-Method']) {
      const value = name === 'X-Original-URI' ? '/public/x' : 'GET';
      const res = await rawRequest(
        gh.gh.publicAddress.port,
        `GET /.gatehouse/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-URI: /public/x\r\n${name}: ${value}\r\n` +
          (name === 'X-Original-Method' ? 'X-Original-Method: POST\r\n' : '') +
          'Connection: close\r\n\r\n',
      );
      assert.equal(res.status, 400, `${name}: ${res.raw.slice(0, 200)}`);
    }
    const line = await gh.auditLine((l) => l.reason === 'bad_request');
    assert.equal(line.decision, 'error');
  });
});
