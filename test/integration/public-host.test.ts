/**
 * issue-20: a Gatehouse whose public_url is http://127.0.0.1:PORT, opened as localhost:PORT,
 * sends the browser to public_url first (the login then works end to end), tells other requests
 * where to go (421 `wrong_host`), and leaves alone what the host does not matter for: bearer
 * callers, route hosts, allowed redirect domains and the edge-proxy endpoints.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { route, testConfig } from '../helpers/config.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

let idp: DevIdp;
let upstream: EchoUpstream;
let gh: TestGatehouse;
let port: number;

async function send(
  path: string,
  host: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
) {
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    method: (opts.method ?? 'GET') as 'GET',
    headers: { host, ...opts.headers },
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

describe('issue-20: a request on another host than public_url', () => {
  before(async () => {
    upstream = await startEchoUpstream();
    port = await freePort();
    idp = await startDevIdp({
      redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`],
      postLogoutRedirectUris: [`http://127.0.0.1:${port}/`],
    });
    gh = await startTestGatehouse(
      testConfig({
        idp,
        server: { allowed_redirect_domains: ['docs.example.test'] },
        routes: [
          route('public', '/public', upstream.url, { policy: 'public' }),
          route('intranet', undefined, upstream.url, {
            policy: 'public',
            match: { host: 'intranet.example.test', path: '/' },
          }),
          route('app', '/', upstream.url, { auth: ['session', 'bearer'] }),
        ],
      }),
      { port },
    );
    await gh.ready();
  });
  after(async () => {
    await gh?.close();
    await idp?.close();
    await upstream?.close();
  });

  it('logs in end to end when opened as localhost', async () => {
    const jar = new CookieJar();
    const r = await loginThroughIdp(`http://localhost:${port}/app/page?x=1`, 'alice', jar);
    assert.equal(r.visited[0], `http://localhost:${port}/app/page?x=1`);
    assert.equal(
      r.visited[1],
      `http://127.0.0.1:${port}/app/page?x=1`,
      'first hop: the same page on public_url',
    );
    assert.equal(r.finalUrl, `http://127.0.0.1:${port}/app/page?x=1`);
    assert.equal(r.status, 200, r.body);
    assert.equal(upstream.requests.at(-1)?.headers['x-auth-request-user'], 'alice');
  });

  it('redirects a navigation to the same path and query on public_url, never elsewhere', async () => {
    for (const [path, host] of [
      ['/public/a?b=c', `localhost:${port}`],
      ['//evil.example/x', 'evil.example'],
      ['/.gatehouse/start?rd=%2Fapp', `localhost:${port}`],
    ] as const) {
      const r = await send(path, host, { headers: { accept: 'text/html' } });
      assert.equal(r.status, 302, `${host}${path}`);
      const location = new URL(String(r.headers.location));
      assert.equal(location.origin, `http://127.0.0.1:${port}`, `${host}${path}`);
      assert.equal(r.headers['cache-control'], 'no-store');
    }
    const head = await send('/public/a', `localhost:${port}`, { method: 'HEAD' });
    assert.equal(head.status, 302);
    const audit = await gh.auditLine((l) => l.reason === 'wrong_host');
    assert.equal(audit.status, 302);
  });

  it('answers other requests 421 wrong_host naming the address to open', async () => {
    const post = await send('/app/form', `localhost:${port}`, {
      method: 'POST',
      headers: { accept: 'application/json' },
    });
    assert.equal(post.status, 421);
    assert.deepEqual(
      [JSON.parse(post.text).error, JSON.parse(post.text).open],
      ['wrong_host', `http://127.0.0.1:${port}/app/form`],
    );
    const fetchMode = await send('/app/data', `localhost:${port}`, {
      headers: { 'sec-fetch-mode': 'cors', accept: 'text/html' },
    });
    assert.equal(fetchMode.status, 421);
    assert.match(
      fetchMode.text,
      new RegExp(`<a class="button primary" href="http://127\\.0\\.0\\.1:${port}/app/data">`),
    );
  });

  it('leaves route hosts, allowed redirect domains, bearer callers and /auth alone', async () => {
    const intranet = await send('/x', 'intranet.example.test');
    assert.equal(intranet.status, 200);
    const docs = await send('/public/x', 'docs.example.test');
    assert.equal(docs.status, 200);
    const samePublic = await send('/public/x', `127.0.0.1:${port}`);
    assert.equal(samePublic.status, 200);
    const bearer = await send('/app', `localhost:${port}`, { headers: { authorization: 'Bearer x.y.z' } });
    assert.equal(bearer.status, 401, 'the token is checked, not the host');
    const auth = await send('/.gatehouse/auth', `localhost:${port}`, {
      headers: { 'x-original-uri': '/public/x' },
    });
    assert.notEqual(auth.status, 302);
    assert.notEqual(auth.status, 421);
  });
});
