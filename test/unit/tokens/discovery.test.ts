import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { discoveryUrls } from '../../../src/tokens/discovery.ts';

describe('discoveryUrls', () => {
  it('tries OpenID Connect, then RFC 8414 with the path after the well-known segment', () => {
    assert.deepEqual(discoveryUrls('https://idp.example'), [
      'https://idp.example/.well-known/openid-configuration',
      'https://idp.example/.well-known/oauth-authorization-server',
    ]);
    assert.deepEqual(discoveryUrls('https://idp.example/realms/acme'), [
      'https://idp.example/realms/acme/.well-known/openid-configuration',
      'https://idp.example/.well-known/oauth-authorization-server/realms/acme',
    ]);
    assert.deepEqual(discoveryUrls('https://idp.example/'), [
      'https://idp.example/.well-known/openid-configuration',
      'https://idp.example/.well-known/oauth-authorization-server',
    ]);
  });
});
