import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { needsRefresh } from '../../../src/oidc/refresh.ts';
import type { SessionData } from '../../../src/session/session-data.ts';

const NOW = Date.UTC(2030, 0, 1);
const base: SessionData = {
  v: 1,
  id: 's',
  iss: 'i',
  claims: { sub: 'a' },
  createdAt: NOW / 1000,
  lastSeenAt: NOW / 1000,
  refreshToken: 'rt',
};

describe('needsRefresh', () => {
  const cases: Array<[string, Partial<SessionData>, boolean]> = [
    ['expires later than the window', { accessTokenExpiresAt: NOW / 1000 + 120 }, false],
    ['expires within the window', { accessTokenExpiresAt: NOW / 1000 + 59 }, true],
    ['expires exactly at the window edge', { accessTokenExpiresAt: NOW / 1000 + 60 }, true],
    ['already expired', { accessTokenExpiresAt: NOW / 1000 - 5 }, true],
    ['no expiry known', {}, false],
    ['no refresh token', { accessTokenExpiresAt: NOW / 1000 - 5, refreshToken: undefined }, false],
  ];
  for (const [name, over, expected] of cases) {
    it(`${name} → ${expected}`, () => {
      assert.equal(needsRefresh({ ...base, ...over }, 60_000, NOW), expected);
    });
  }
});
