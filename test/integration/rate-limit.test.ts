/**
 * Route rate limits in proxy mode and through `/auth`: after `burst` allowed requests the caller
 * gets 429 `rate_limited` with Retry-After, RateLimit and RateLimit-Policy, an audit line and
 * the metric, and gets through again once the bucket refills; buckets are per identity, per
 * client or per address as configured, and refused requests draw no token.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { route, testConfig } from '../helpers/config.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { issuerEntry, metricValue, startTokenIssuer, type TokenIssuer } from './limits-helpers.ts';

describe('route rate limits', () => {
  let gh: TestGatehouse;
  let upstream: EchoUpstream;
  let issuer: TokenIssuer;

  before(async () => {
    issuer = await startTokenIssuer();
    upstream = await startEchoUpstream();
    gh = await startTestGatehouse(
      testConfig({
        server: { trusted_proxies: ['127.0.0.1/32'] },
        bearer: [issuerEntry(issuer)],
        routes: [
          route('ident', '/ident', upstream.url, {
            auth: ['bearer'],
            rate_limit: { per: 'identity', requests: 3, window: '1s' },
          }),
          route('client', '/client', upstream.url, {
            auth: ['bearer'],
            rate_limit: { per: 'client', requests: 2, window: '1m' },
          }),
          route('byip', '/byip', upstream.url, {
            policy: 'public',
            rate_limit: { per: 'ip', requests: 2, window: '1m' },
          }),
          route('anon', '/anon', upstream.url, {
            policy: 'public',
            rate_limit: { per: 'identity', requests: 1, window: '1m' },
          }),
          route('edge', '/edge', upstream.url, {
            auth: ['bearer'],
            rate_limit: { per: 'identity', requests: 1, window: '1m' },
          }),
        ],
      }),
    );
    await gh.ready();
  });
  after(async () => {
    await gh?.close();
    await upstream?.close();
    await issuer?.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`${gh.url}${path}`, { headers: { accept: 'application/json', ...headers } });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('answers 429 with the headers after the burst, and recovers after the window', async () => {
    const alice = bearer(await issuer.token('alice'));
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await get('/ident/x', alice));
    assert.deepEqual(
      answers.map((a) => [a.status, a.headers.ratelimit]),
      [
        [200, '"ident";r=2;t=1'],
        [200, '"ident";r=1;t=1'],
        [200, '"ident";r=0;t=1'],
      ],
    );
    assert.equal(answers[0]!.headers['ratelimit-policy'], '"ident";q=3;w=1');
    assert.equal(answers[0]!.headers['retry-after'], undefined);
    const refused = await get('/ident/x', alice);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.headers['ratelimit-policy'], '"ident";q=3;w=1');
    assert.equal(refused.headers.ratelimit, '"ident";r=0;t=1');
    assert.equal(JSON.parse(refused.body).error, 'rate_limited');
    const line = await gh.auditLine((l) => l.reason === 'rate_limited' && l.route === 'ident');
    assert.equal(line.status, 429);
    assert.equal(line.sub, 'alice');
    assert.equal(line.decision, 'error');
    assert.equal(await metricValue(gh.adminUrl, /^gatehouse_rate_limited_total\{route="ident"\}/), 1);

    // another identity has its own bucket
    assert.equal((await get('/ident/x', bearer(await issuer.token('bob')))).status, 200);

    await new Promise((r) => setTimeout(r, 1100)); // refilled (3 per second)
    assert.equal((await get('/ident/x', alice)).status, 200);
  });

  it('refused requests draw no token: anonymous 401s never turn into 429', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await get('/ident/y')).status, 401);
    const forged = { authorization: 'Bearer not-a-jwt' };
    for (let i = 0; i < 6; i++) assert.equal((await get('/ident/y', forged)).status, 401);
  });

  it('per client: one bucket per OAuth client, whoever the subject', async () => {
    const aliceA = bearer(await issuer.token('alice', 'cli-a'));
    const bobA = bearer(await issuer.token('bob', 'cli-a'));
    const aliceB = bearer(await issuer.token('alice', 'cli-b'));
    assert.equal((await get('/client/x', aliceA)).status, 200);
    assert.equal((await get('/client/x', bobA)).status, 200);
    assert.equal((await get('/client/x', aliceA)).status, 429, 'cli-a is spent, by alice and bob together');
    assert.equal((await get('/client/x', bobA)).status, 429);
    assert.equal((await get('/client/x', aliceB)).status, 200, 'cli-b has its own bucket');
  });

  it('per ip: the client address after trusted_proxies', async () => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    assert.equal((await get('/byip/x', from('10.0.0.1'))).status, 200);
    assert.equal((await get('/byip/x', from('10.0.0.1'))).status, 200);
    assert.equal((await get('/byip/x', from('10.0.0.1'))).status, 429);
    assert.equal((await get('/byip/x', from('10.0.0.2'))).status, 200);
  });

  it('per identity on a public route: anonymous callers are limited by address', async () => {
    assert.equal((await get('/anon/x', { 'x-forwarded-for': '10.1.0.1' })).status, 200);
    assert.equal((await get('/anon/x', { 'x-forwarded-for': '10.1.0.1' })).status, 429);
    assert.equal((await get('/anon/x', { 'x-forwarded-for': '10.1.0.2' })).status, 200);
  });

  it('/auth (nginx auth_request) and forward auth apply the same limit; forward auth answers 429', async () => {
    const carol = bearer(await issuer.token('carol'));
    const auth = (extra: Record<string, string> = {}) =>
      get('/.gatehouse/auth', {
        'x-original-uri': '/edge/x',
        'x-original-method': 'GET',
        ...carol,
        ...extra,
      });
    assert.equal((await auth()).status, 202);
    // nginx passes only 2xx/401/403 on: a trusted proxy's /auth gets 403 + Retry-After, which the
    // shipped snippet turns into the client's 429 (nginx-auth-request.test.ts proves it end to end)
    const refused = await auth();
    assert.equal(refused.status, 403);
    assert.equal(refused.body, '');
    assert.equal(refused.headers['ratelimit-policy'], '"edge";q=1;w=60');
    assert.ok(Number(refused.headers['retry-after']) >= 59);
    // forward auth (Caddy, Traefik) decides in the same check: carol's bucket is spent there too
    const fwd = await get('/.gatehouse/forward_auth', {
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/edge/x',
      'x-forwarded-host': '127.0.0.1',
      'x-forwarded-proto': 'http',
      ...carol,
    });
    assert.equal(fwd.status, 429);
  });
  it('a config reload keeps the buckets: a spent caller stays limited', async () => {
    const erin = bearer(await issuer.token('erin'));
    assert.equal((await get('/edge/x', erin)).status, 200);
    assert.equal((await get('/edge/x', erin)).status, 429);
    // the same limit, another log level: a new Runtime, the same store and limiter
    const text = readFileSync(gh.configFile, 'utf8');
    writeFileSync(gh.configFile, `${text}\nlog:\n  level: debug\n`);
    assert.deepEqual(await gh.gh.reload(), { ok: true });
    assert.equal((await get('/edge/x', erin)).status, 429);
  });
});
