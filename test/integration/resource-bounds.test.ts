/**
 * issue 10 resource bounds through the real server: header size (431), cookie chunk count,
 * token size, slow headers (slowloris: timed out and the socket closed), a slow request body
 * streamed rather than buffered, and the caches bounded by count.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { request } from 'undici';
import { LruCache } from '../../src/util/lru.ts';
import { route, testConfig } from '../helpers/config.ts';
import { watchUnhandled } from '../helpers/faults.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { waitFor } from '../helpers/wait.ts';

const unhandled = watchUnhandled();
let upstream: EchoUpstream;
let gh: TestGatehouse;
let port: number;

before(async () => {
  upstream = await startEchoUpstream();
  gh = await startTestGatehouse(
    testConfig({
      server: { max_header_size: 32768, headers_timeout: '1s' },
      // Never contacted: the requests here are refused before any IdP or key fetch.
      oidc: {
        issuer: 'http://127.0.0.1:9',
        client_id: 'gatehouse',
        client_secret: 'bounds-client-secret-0123456789abcdef',
      },
      bearer: [
        {
          issuer: 'https://issuer.bounds.test',
          jwks_uri: 'http://127.0.0.1:1/jwks',
          audiences: ['api://x'],
          algorithms: ['ES256'],
        },
      ],
      routes: [
        route('public', '/public', upstream.url, { policy: 'public' }),
        route('app', '/app', upstream.url),
      ],
    }),
  );
  port = gh.gh.publicAddress.port;
});

after(async () => {
  await gh?.close();
  await upstream?.close();
  assert.deepEqual(unhandled.stop(), [], 'no unhandled rejection');
});

// Host 127.0.0.1: public_url's host (any other name is redirected there first, see public-host.ts).
describe('resource bounds', () => {
  it('headers over server.max_header_size → 431, and the connection is closed', async () => {
    const res = await rawRequest(
      port,
      `GET /public HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(40_000)}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(res.status, 431);
    assert.equal(res.headers.connection, 'close');
    const many = Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n');
    assert.equal(
      (
        await rawRequest(
          port,
          `GET /public HTTP/1.1\r\nHost: 127.0.0.1\r\n${many}\r\nConnection: close\r\n\r\n`,
        )
      ).status,
      431,
    );
    // under the limit is fine (12 KB: the echo upstream keeps node's default 16 KB limit)
    const ok = await rawRequest(
      port,
      `GET /public HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(12_000)}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(ok.status, 200);
  });

  it('a bearer token over 16 KB is token_too_large before any parsing or key fetch', async () => {
    const res = await request(`${gh.url}/app`, {
      headers: { authorization: `Bearer ${'eyJ'.repeat(6000)}.e30.c2ln`, accept: 'application/json' },
    });
    assert.equal(res.statusCode, 401);
    assert.equal(((await res.body.json()) as { error: string }).error, 'token_too_large');
  });

  it('more session chunks than session.max_chunks (8) → session_too_large, cleared, no unseal attempted', async () => {
    const cookie = Array.from({ length: 9 }, (_, i) => `gatehouse.${i}=${'Fe26.2'.repeat(10)}`).join('; ');
    const res = await request(`${gh.url}/app`, { headers: { cookie, accept: 'application/json' } });
    assert.equal(res.statusCode, 401);
    assert.equal(((await res.body.json()) as { error: string }).error, 'session_too_large');
    const cleared = [res.headers['set-cookie']].flat().join('\n');
    assert.match(cleared, /gatehouse\.8=; Path=\/; Max-Age=0/);
    // 200 cookie pairs, of which 100 look like chunks: still bounded, still refused
    const flood = Array.from({ length: 300 }, (_, i) => `gatehouse.${i % 100}=x; c${i}=y`).join('; ');
    const res2 = await request(`${gh.url}/app`, { headers: { cookie: flood, accept: 'application/json' } });
    assert.equal(res2.statusCode, 401);
    await res2.body.text();
  });

  it('issue-10 slowloris: headers trickling in past server.headers_timeout are cut off and the socket closed', async () => {
    const started = performance.now();
    const outcome = await new Promise<{ closedAfter: number; answer: string }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      let i = 0;
      socket.on('data', (c) => {
        answer += c.toString('latin1');
      });
      socket.on('error', () => {});
      const drip = setInterval(() => {
        if (socket.writable)
          socket.write(i++ === 0 ? 'GET /public HTTP/1.1\r\nHost: 127.0.0.1\r\n' : `X-${i}: a\r\n`);
      }, 200);
      socket.on('close', () => {
        clearInterval(drip);
        resolve({ closedAfter: performance.now() - started, answer });
      });
      setTimeout(() => socket.destroy(), 10_000).unref();
    });
    assert.ok(
      outcome.closedAfter < 4000,
      `closed after ${Math.round(outcome.closedAfter)} ms (headers_timeout 1s)`,
    );
    assert.ok(outcome.closedAfter >= 900, `not before the timeout: ${Math.round(outcome.closedAfter)} ms`);
    assert.match(outcome.answer, /^HTTP\/1\.1 408 /);
  });

  it('a slow request body is streamed to the upstream as it arrives, not buffered', async () => {
    const before = upstream.requests.length;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (c) => {
      answer += c.toString('latin1');
    });
    socket.write(
      'POST /public/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    );
    const chunk = 'x'.repeat(1000);
    // three chunks spread over longer than headers_timeout: bodies are not bound by it
    for (let i = 0; i < 3; i++) {
      socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await waitFor(() => (upstream.requests[before]?.bodyBytes ?? 0) >= (i + 1) * 1000, {
        timeoutMs: 3000,
        what: `chunk ${i} upstream`,
      });
      assert.equal(upstream.requests[before]!.bodySha256, undefined, 'the body has not ended yet');
      await new Promise((r) => setTimeout(r, 500));
    }
    socket.write('0\r\n\r\n'); // no FIN: node aborts a request whose client half-closes
    await waitFor(() => /\r\n\r\n/.test(answer) && upstream.requests[before]?.bodySha256 !== undefined, {
      timeoutMs: 3000,
      what: 'the answer',
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal(upstream.requests[before]!.bodyBytes, 3000);
    socket.destroy();
  });

  it('property: every LruCache stays within its count and never serves an expired entry', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 100 })), {
          maxLength: 300,
        }),
        (max, ops) => {
          const lru = new LruCache<number>(max);
          let now = 0;
          for (const [isSet, key, ttl] of ops) {
            now++;
            if (isSet) lru.set(String(key), now + ttl, now + ttl);
            else {
              const v = lru.get(String(key), now);
              if (v !== undefined) assert.ok(v > now, 'expired entry served');
            }
            assert.ok(lru.size <= max, `size ${lru.size} > ${max}`);
          }
        },
      ),
      { seed: 60, numRuns: 300 },
    );
  });
});
