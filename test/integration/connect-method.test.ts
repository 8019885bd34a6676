/**
 * Gatehouse is a reverse proxy, never a forward one: CONNECT gets a clear 405 and the tunnel is
 * never opened.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { route, testConfig } from '../helpers/config.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

describe('CONNECT', () => {
  let upstream: EchoUpstream;
  let gh: TestGatehouse;
  before(async () => {
    upstream = await startEchoUpstream();
    gh = await startTestGatehouse(
      testConfig({ routes: [route('all', undefined, upstream.url, { policy: 'public' })] }),
    );
  });
  after(async () => {
    await gh?.close();
    await upstream?.close();
  });

  it('answers 405 and opens no tunnel', async () => {
    const port = gh.gh.publicAddress.port;
    const res = await rawRequest(
      port,
      `CONNECT 127.0.0.1:${upstream.port} HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\n\r\n`,
    );
    assert.equal(res.status, 405);
    assert.match(res.headers.allow ?? '', /GET/);
    assert.equal(upstream.requests.length, 0);
  });
});
