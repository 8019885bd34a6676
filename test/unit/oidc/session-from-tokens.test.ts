import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as oauth from 'oauth4webapi';
import { needsRefresh } from '../../../src/oidc/refresh.ts';
import { accessTokenExp, withTokens } from '../../../src/oidc/session-from-tokens.ts';
import type { SessionData } from '../../../src/session/session-data.ts';

const NOW = Date.UTC(2030, 0, 1);
const NOW_S = NOW / 1000;

const jwt = (payload: unknown) =>
  `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

const session: SessionData = {
  v: 1,
  id: 'x',
  iss: 'https://idp',
  claims: { sub: 'a' },
  createdAt: NOW_S,
  lastSeenAt: NOW_S,
  refreshToken: 'rt',
};

const response = (over: Record<string, unknown>) =>
  ({ token_type: 'bearer', ...over }) as unknown as oauth.TokenEndpointResponse;

describe('access token expiry', () => {
  it('takes expires_in when the token response has it', () => {
    const out = withTokens(
      session,
      response({ access_token: jwt({ exp: NOW_S + 9999 }), expires_in: 300 }),
      NOW,
    );
    assert.equal(out.accessTokenExpiresAt, NOW_S + 300);
  });

  it("falls back to a JWT access token's exp, so refresh_before still applies", () => {
    const out = withTokens(session, response({ access_token: jwt({ exp: NOW_S + 30 }) }), NOW);
    assert.equal(out.accessTokenExpiresAt, NOW_S + 30);
    assert.equal(needsRefresh(out, 60_000, NOW), true);
    assert.equal(needsRefresh(out, 10_000, NOW), false);
  });

  it('an opaque token or a junk exp means no expiry known (no refresh)', () => {
    for (const token of ['opaque', jwt({ exp: 'soon' }), jwt({ exp: -1 }), jwt(null), 'a.%%%.c', 'a.b.c.d']) {
      assert.equal(accessTokenExp(token), undefined, token);
      const out = withTokens({ ...session, accessTokenExpiresAt: 1 }, response({ access_token: token }), NOW);
      assert.equal(out.accessTokenExpiresAt, undefined);
      assert.equal(needsRefresh(out, 60_000, NOW), false);
    }
  });
});
