/**
 * What the admin live view reads of a key set (`JwksCache.status`): against a real key endpoint,
 * a load, a failed refresh that keeps the last good keys, and the recovery.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { silentLog } from '../../src/observe/logger.ts';
import { createJwksCache } from '../../src/tokens/jwks-cache.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';
import { startJwksServer } from '../helpers/jwks-server.ts';

describe('JWKS cache status', () => {
  const dispatcher = createOutboundDispatcher();
  after(() => dispatcher.close());

  it('reports loads, a failure with its reason (keys kept), and the recovery – never key material', async () => {
    const jwk = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k1', alg: 'ES256' };
    const server = await startJwksServer([jwk]);
    const cache = createJwksCache({
      issuer: server.issuer,
      jwksUri: async () => server.url,
      dispatcher,
      log: silentLog,
      minTtl: 60_000,
      maxTtl: 60_000,
      cooldown: 0,
      timeout: 2000,
    });
    try {
      assert.deepEqual(cache.status(), { loaded: false, keys: 0, failures: 0 });

      assert.equal(await cache.refresh(), true);
      const ok = cache.status();
      assert.equal(ok.loaded, true);
      assert.equal(ok.keys, 1);
      assert.equal(ok.failures, 0);
      assert.equal(typeof ok.last_refresh, 'number');
      assert.equal(ok.last_error, undefined);

      server.setKeys([]);
      assert.equal(await cache.refresh(), false);
      const failed = cache.status();
      assert.equal(failed.loaded, true, 'the last good keys stay');
      assert.equal(failed.keys, 1);
      assert.equal(failed.failures, 1);
      assert.match(failed.last_error ?? '', /no usable signing key/);
      assert.equal(failed.last_refresh, ok.last_refresh);
      assert.ok((failed.last_attempt ?? 0) >= (ok.last_refresh ?? Infinity));
      assert.doesNotMatch(JSON.stringify(failed), new RegExp(String(jwk.x)));

      server.setKeys([jwk]);
      assert.equal(await cache.refresh(), true);
      assert.equal(cache.status().failures, 0);
      assert.equal(cache.status().last_error, undefined);
    } finally {
      cache.close();
      await server.close();
    }
  });
});
