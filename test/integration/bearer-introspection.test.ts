import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { silentLog } from '../../src/observe/logger.ts';
import { createBearerVerifier } from '../../src/tokens/bearer-verifier.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';
import { issuerConfig, recordingLog, rejectCode, startServer, type TestServer } from './bearer-helpers.ts';

const ISSUER = 'https://opaque.example';

describe('opaque tokens: RFC 7662 introspection (local server)', () => {
  let dispatcher: Dispatcher;
  let server: TestServer;
  /** token → introspection answer; a number answers with that HTTP status */
  const answers = new Map<string, Record<string, unknown> | number>();
  const seen: { authorization?: string; body: URLSearchParams }[] = [];

  before(async () => {
    dispatcher = createOutboundDispatcher({ timeoutMs: 1000 });
    server = await startServer((req, res, body) => {
      const form = new URLSearchParams(body);
      seen.push({ authorization: req.headers.authorization, body: form });
      if (req.url?.endsWith('/.well-known/openid-configuration')) {
        // the root document is the server's own; /wrong/… names another issuer (a mix-up)
        const issuer = req.url === '/.well-known/openid-configuration' ? server.url : ISSUER;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer, introspection_endpoint: `${server.url}/introspect` }));
        return;
      }
      const answer = answers.get(form.get('token') ?? '') ?? { active: false };
      if (typeof answer === 'number') res.writeHead(answer).end('oops');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  after(async () => {
    await server.close();
    await dispatcher.close();
  });

  function verifierWith(introspection: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const v = createBearerVerifier({
      issuers: [
        issuerConfig({
          issuer: ISSUER,
          jwks_uri: `${server.url}/jwks`,
          introspection: {
            endpoint: `${server.url}/introspect`,
            client_id: 'gate house',
            client_secret: 's3cr:et',
            ...introspection,
          },
          ...extra,
        }),
      ],
      cacheSize: 100,
      dispatcher,
      log: silentLog,
    });
    after(() => v.close());
    return v;
  }

  it('accepts an active token, authenticates with client_secret_basic, and caches the answer', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    answers.set('opaque-1', { active: true, sub: 'svc', client_id: 'svc-client', aud: 'api://demo', exp });
    const verifier = verifierWith({});
    const v = await verifier.verify('opaque-1');
    assert.equal(v.issuer, ISSUER);
    assert.equal(v.clientId, 'svc-client');
    assert.equal(v.expiresAt, exp);
    assert.equal(v.claims.sub, 'svc');
    const last = seen.at(-1)!;
    // RFC 6749 §2.3.1: id and secret are form-encoded before Basic
    assert.equal(last.authorization, `Basic ${Buffer.from('gate+house:s3cr%3Aet').toString('base64')}`);
    assert.equal(last.body.get('token_type_hint'), 'access_token');
    assert.equal(last.body.has('client_secret'), false);

    const calls = server.hits.get('/introspect');
    assert.equal(await verifier.verify('opaque-1'), v);
    assert.equal(server.hits.get('/introspect'), calls, 'a cached answer is not asked again');
  });

  it('caches no longer than cache_ttl', async () => {
    answers.set('opaque-ttl', { active: true, sub: 'svc', exp: Math.floor(Date.now() / 1000) + 3600 });
    const verifier = verifierWith({ cache_ttl: '1s' });
    const now = Date.now();
    await verifier.verify('opaque-ttl', now);
    const calls = server.hits.get('/introspect') ?? 0;
    await verifier.verify('opaque-ttl', now + 500);
    assert.equal(server.hits.get('/introspect'), calls);
    await verifier.verify('opaque-ttl', now + 1500);
    assert.equal(server.hits.get('/introspect'), calls + 1);
  });

  it('supports client_secret_post, with the endpoint from discovery', async () => {
    answers.set('opaque-post', { active: true, sub: 'svc' });
    const verifier = createBearerVerifier({
      issuers: [
        issuerConfig({
          issuer: server.url,
          jwks_uri: `${server.url}/jwks`,
          introspection: { client_id: 'c', client_secret: 's', auth_method: 'client_secret_post' },
        }),
      ],
      cacheSize: 10,
      dispatcher,
      log: silentLog,
    });
    after(() => verifier.close());
    await verifier.verify('opaque-post');
    const last = seen.at(-1)!;
    assert.equal(last.authorization, undefined);
    assert.equal(last.body.get('client_id'), 'c');
    assert.equal(last.body.get('client_secret'), 's');
    assert.equal(last.body.get('token'), 'opaque-post');
  });

  it('refuses a discovery document that names another issuer', async () => {
    answers.set('opaque-mixup', { active: true, sub: 'svc' });
    const verifier = createBearerVerifier({
      issuers: [
        issuerConfig({
          issuer: `${server.url}/wrong`,
          jwks_uri: `${server.url}/jwks`,
          introspection: { client_id: 'c', client_secret: 's' },
        }),
      ],
      cacheSize: 10,
      dispatcher,
      log: silentLog,
    });
    after(() => verifier.close());
    const calls = server.hits.get('/introspect') ?? 0;
    assert.equal(await rejectCode(verifier.verify('opaque-mixup')), 'introspection_failed');
    assert.equal(server.hits.get('/introspect') ?? 0, calls);
  });

  it('refuses inactive, expired, wrong-audience and foreign-issuer tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    answers.set('opaque-off', { active: false });
    answers.set('opaque-exp', { active: true, exp: now - 600 });
    answers.set('opaque-aud', { active: true, aud: ['api://other'] });
    answers.set('opaque-iss', { active: true, iss: 'https://evil.example' });
    answers.set('opaque-weird', { active: 'yes' });
    const verifier = verifierWith({});
    await assert.rejects(verifier.verify('opaque-off'), {
      code: 'token_inactive',
      message: 'The token is not active.',
    });
    assert.equal(await rejectCode(verifier.verify('opaque-exp')), 'token_expired');
    assert.equal(await rejectCode(verifier.verify('opaque-aud')), 'audience_mismatch');
    assert.equal(await rejectCode(verifier.verify('opaque-iss')), 'issuer_mismatch');
    assert.equal(await rejectCode(verifier.verify('opaque-weird')), 'introspection_failed');
    // failures are not cached: asked again
    const calls = server.hits.get('/introspect') ?? 0;
    assert.equal(await rejectCode(verifier.verify('opaque-off')), 'token_inactive');
    assert.equal(server.hits.get('/introspect'), calls + 1);
  });

  it('answers introspection_failed when the endpoint fails, and logs no token', async () => {
    answers.set('opaque-500', 500);
    const log = recordingLog();
    const verifier = createBearerVerifier({
      issuers: [
        issuerConfig({
          issuer: ISSUER,
          jwks_uri: `${server.url}/jwks`,
          introspection: {
            endpoint: `${server.url}/introspect`,
            client_id: 'c',
            client_secret: 'secret-value',
          },
        }),
      ],
      cacheSize: 10,
      dispatcher,
      log,
    });
    after(() => verifier.close());
    await assert.rejects(verifier.verify('opaque-500'), { code: 'introspection_failed' });
    assert.equal(log.entries.length, 1);
    const line = JSON.stringify(log.entries);
    assert.ok(!line.includes('opaque-500') && !line.includes('secret-value'), line);
  });

  it('refuses opaque tokens when two issuers introspect', async () => {
    const intro = { endpoint: `${server.url}/introspect`, client_id: 'c', client_secret: 's' };
    const verifier = createBearerVerifier({
      issuers: [
        issuerConfig({ issuer: 'https://a.example', jwks_uri: `${server.url}/jwks`, introspection: intro }),
        issuerConfig({ issuer: 'https://b.example', jwks_uri: `${server.url}/jwks`, introspection: intro }),
      ],
      cacheSize: 10,
      dispatcher,
      log: silentLog,
    });
    after(() => verifier.close());
    const calls = server.hits.get('/introspect') ?? 0;
    assert.equal(await rejectCode(verifier.verify('opaque-1')), 'token_malformed');
    assert.equal(server.hits.get('/introspect') ?? 0, calls);
  });
});
