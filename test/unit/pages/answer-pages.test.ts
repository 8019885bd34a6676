/**
 * Which non-allow answers become a page instead of a silent redirect: an expired session and a
 * session from a provider the route does not accept, for a navigating browser only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRequestTarget } from '../../../src/http/request-target.ts';
import type { Identity } from '../../../src/identity/identity.ts';
import { answerFor, PROXY_STYLE, type RequestHead } from '../../../src/pipeline/respond.ts';
import type { LoginTarget } from '../../../src/pipeline/runtime.ts';
import type { Scope } from '../../../src/pipeline/scope.ts';
import type { CompiledRoute } from '../../../src/policy/route-table.ts';

const scope = (extra: Partial<Scope> = {}): Scope => ({
  requestId: 'r-1',
  startedAt: 0,
  clientIp: '203.0.113.9',
  proto: 'https',
  host: 'app.example.com',
  method: 'GET',
  target: parseRequestTarget('/wiki?p=1'),
  route: { name: 'wiki', config: { providers: ['corp'] } } as unknown as CompiledRoute,
  ...extra,
});
const rt = {
  loginTarget: (): LoginTarget => ({
    startUrl: 'https://app.example.com/.gatehouse/start',
    canLogin: true,
    provider: 'corp',
  }),
};
const browser: RequestHead = { method: 'GET', headers: { accept: 'text/html' } };
const xhr: RequestHead = { method: 'GET', headers: { accept: 'text/html', 'sec-fetch-mode': 'cors' } };
const carol = {
  sub: 'carol',
  iss: 'https://partners',
  idp: 'partners',
  groups: [],
  roles: [],
  claims: {},
  authType: 'session',
  expiresAt: 0,
} as Identity;
const RD = encodeURIComponent('https://app.example.com/wiki?p=1');

describe('answers that are pages', () => {
  for (const reason of ['session_idle', 'session_expired'] as const) {
    it(`${reason}: a navigating browser gets a 401 page whose sign-in carries rd; a fetch gets 401`, () => {
      const a = answerFor({ outcome: 'login', reason }, scope(), rt, browser, PROXY_STYLE);
      assert.deepEqual([a.status, a.body, a.bodyCode, a.headers.location], [401, true, reason, undefined]);
      assert.deepEqual(a.page, { signIn: `https://app.example.com/.gatehouse/start?provider=corp&rd=${RD}` });
      const f = answerFor({ outcome: 'login', reason }, scope(), rt, xhr, PROXY_STYLE);
      assert.deepEqual([f.status, f.page], [401, undefined]);
    });
  }

  it('other login reasons still redirect silently', () => {
    for (const reason of ['no_credentials', 'session_revoked', 'refresh_failed'] as const) {
      const a = answerFor({ outcome: 'login', reason }, scope(), rt, browser, PROXY_STYLE);
      assert.equal(a.status, 302, reason);
    }
  });

  it('a session from another provider: the switch page, naming the accepted providers', () => {
    const a = answerFor(
      { outcome: 'login', reason: 'no_credentials' },
      scope({ otherSession: carol }),
      rt,
      browser,
      PROXY_STYLE,
    );
    assert.equal(a.status, 401);
    assert.deepEqual(a.page, { switchTo: ['corp'], rd: 'https://app.example.com/wiki?p=1' });
  });
});
