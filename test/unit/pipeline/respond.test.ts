/**
 * `answerFor`: the one mapping from a non-allow verdict to an answer, per entry point style.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRequestTarget } from '../../../src/http/request-target.ts';
import type { Identity } from '../../../src/identity/identity.ts';
import {
  API_STYLE,
  answerFor,
  authRequestStyle,
  PROXY_STYLE,
  type RequestHead,
} from '../../../src/pipeline/respond.ts';
import type { LoginTarget } from '../../../src/pipeline/runtime.ts';
import type { Scope } from '../../../src/pipeline/scope.ts';
import type { CompiledRoute } from '../../../src/policy/route-table.ts';

const route = { name: 'app' } as CompiledRoute;
const scope = (extra: Partial<Scope> = {}): Scope => ({
  requestId: 'r-1',
  startedAt: 0,
  clientIp: '203.0.113.9',
  proto: 'https',
  host: 'app.example.com',
  method: 'GET',
  target: parseRequestTarget('/app/orders?id=1&x=2'),
  route,
  ...extra,
});
const canLogin = (target: Partial<LoginTarget> = {}) => ({
  loginTarget: (): LoginTarget => ({
    startUrl: 'https://app.example.com/.gatehouse/start',
    canLogin: true,
    ...target,
  }),
});
const browser: RequestHead = { method: 'GET', headers: { accept: 'text/html,application/xhtml+xml' } };
const api: RequestHead = { method: 'GET', headers: { accept: 'application/json' } };
const login = { outcome: 'login', reason: 'no_credentials' } as const;

describe('answerFor', () => {
  it('sends a browser navigation to sign in, with the whole original URL as rd', () => {
    const a = answerFor(login, scope(), canLogin(), browser, PROXY_STYLE);
    assert.equal(a.status, 302);
    assert.equal(
      a.headers.location,
      `https://app.example.com/.gatehouse/start?rd=${encodeURIComponent('https://app.example.com/app/orders?id=1&x=2')}`,
    );
    assert.equal(a.body, false);
    const one = answerFor(login, scope(), canLogin({ provider: 'corp' }), browser, PROXY_STYLE);
    assert.match(String(one.headers.location), /\/start\?provider=corp&rd=/);
  });

  it('answers 401 + WWW-Authenticate to an API caller, a fetch, or where no login exists', () => {
    const fetchMode: RequestHead = {
      method: 'GET',
      headers: { accept: 'text/html', 'sec-fetch-mode': 'cors' },
    };
    for (const [req, target] of [
      [api, canLogin()],
      [fetchMode, canLogin()],
      [browser, canLogin({ canLogin: false })],
      [{ method: 'POST', headers: { accept: 'text/html' } }, canLogin()],
    ] as const) {
      const a = answerFor(login, scope(), target, req, PROXY_STYLE);
      assert.equal(a.status, 401);
      assert.equal(a.headers['www-authenticate'], 'Bearer realm="gatehouse"');
      assert.equal(a.bodyCode, 'no_credentials');
    }
  });

  it('names a refused token in WWW-Authenticate and in the body', () => {
    const a = answerFor({ outcome: 'login', reason: 'token_expired' }, scope(), canLogin(), api, PROXY_STYLE);
    assert.match(
      String(a.headers['www-authenticate']),
      /error="invalid_token", error_description="The token has expired\."/,
    );
    assert.equal(a.bodyCode, 'token_expired');
    assert.equal(a.reason, 'token_expired');
    // Every credential reason is a 401 one; any other still answers 401, naming no_credentials.
    const s = answerFor(
      { outcome: 'login', reason: 'store_unavailable' },
      scope(),
      canLogin(),
      api,
      PROXY_STYLE,
    );
    assert.deepEqual([s.status, s.bodyCode], [401, 'no_credentials']);
  });

  it('denies with 403, and insufficient_scope for a bearer caller', () => {
    const deny = { outcome: 'deny', reason: 'policy_denied' } as const;
    assert.equal(
      answerFor(deny, scope(), canLogin(), api, PROXY_STYLE).headers['www-authenticate'],
      undefined,
    );
    const bearer = scope({ identity: { authType: 'bearer' } as Identity });
    const a = answerFor(deny, bearer, canLogin(), api, PROXY_STYLE);
    assert.equal(a.status, 403);
    assert.equal(a.headers['www-authenticate'], 'Bearer realm="gatehouse", error="insufficient_scope"');
  });

  it('names the scopes a token lacks (RFC 6750 §3.1), only for a policy insufficient_scope', () => {
    const lacking = {
      outcome: 'deny',
      reason: 'insufficient_scope',
      rule: 'allow[0]',
      dryRun: false,
      enforcedOutcome: 'deny',
      requiredScope: 'orders:read orders:write',
    } as const;
    const bearer = scope({ identity: { authType: 'bearer' } as Identity, decision: lacking });
    const a = answerFor(lacking, bearer, canLogin(), api, PROXY_STYLE);
    assert.equal(a.status, 403);
    assert.equal(a.reason, 'insufficient_scope');
    assert.equal(
      a.headers['www-authenticate'],
      'Bearer realm="gatehouse", error="insufficient_scope", scope="orders:read orders:write"',
    );
    // A session caller gets the 403 without a Bearer challenge.
    const session = scope({ identity: { authType: 'session' } as Identity, decision: lacking });
    assert.equal(
      answerFor(lacking, session, canLogin(), api, PROXY_STYLE).headers['www-authenticate'],
      undefined,
    );
    // Another deny reason never names the scopes of an earlier decision.
    const other = answerFor(
      { outcome: 'deny', reason: 'policy_denied' },
      bearer,
      canLogin(),
      api,
      PROXY_STYLE,
    );
    assert.equal(other.headers['www-authenticate'], 'Bearer realm="gatehouse", error="insufficient_scope"');
  });

  it('answers nginx auth_request without redirects, head-only from a trusted proxy', () => {
    const viaProxy = answerFor(login, scope(), canLogin(), browser, authRequestStyle(true));
    assert.deepEqual([viaProxy.status, viaProxy.body], [401, false]);
    const direct = answerFor(login, scope(), canLogin(), browser, authRequestStyle(false));
    assert.deepEqual([direct.status, direct.body], [401, true]);
    const deny = answerFor(
      { outcome: 'deny', reason: 'no_rule_matched' },
      scope(),
      canLogin(),
      api,
      authRequestStyle(true),
    );
    assert.deepEqual([deny.status, deny.body], [403, false]);
  });

  it('maps no route to 404 in proxy mode and to a 403 deny for auth_request', () => {
    const none = { outcome: 'error', reason: 'route_not_found' } as const;
    const proxy = answerFor(none, scope({ route: undefined }), canLogin(), api, PROXY_STYLE);
    assert.deepEqual([proxy.status, proxy.decision], [404, 'error']);
    const auth = answerFor(none, scope({ route: undefined }), canLogin(), api, authRequestStyle(true));
    assert.deepEqual([auth.status, auth.decision, auth.reason], [403, 'deny', 'route_not_found']);
  });

  it('answers errors with the registry status, and carries cookies a stage decided on', () => {
    const cleared = ['gatehouse=; Max-Age=0; Path=/'];
    const a = answerFor(
      { outcome: 'error', reason: 'store_unavailable' },
      scope({ setCookies: cleared }),
      canLogin(),
      api,
      API_STYLE,
    );
    assert.deepEqual([a.status, a.decision, a.body], [503, 'error', true]);
    assert.deepEqual(a.headers['set-cookie'], cleared);
  });

  it('issue-20: sends a GET on the wrong host to the same page on public_url, else 421', () => {
    const rt = { ...canLogin(), publicOrigin: new URL('http://127.0.0.1:8080') };
    const wrong = { outcome: 'error', reason: 'wrong_host' } as const;
    const s = scope({ host: 'evil.example', proto: 'http' });
    const nav = answerFor(wrong, s, rt, browser, PROXY_STYLE);
    assert.equal(nav.status, 302);
    assert.equal(nav.headers.location, 'http://127.0.0.1:8080/app/orders?id=1&x=2');
    const post = answerFor(wrong, s, rt, { method: 'POST', headers: {} }, PROXY_STYLE);
    assert.equal(post.status, 421);
    assert.equal(post.open, 'http://127.0.0.1:8080/app/orders?id=1&x=2');
    const cors = answerFor(
      wrong,
      s,
      rt,
      { method: 'GET', headers: { 'sec-fetch-mode': 'cors' } },
      PROXY_STYLE,
    );
    assert.equal(cors.status, 421);
  });
});

describe('answerFor: rate_limited', () => {
  const limited = { outcome: 'error', reason: 'rate_limited' } as const;
  const limitHeaders = {
    'retry-after': '7',
    ratelimit: '"app";r=0;t=7',
    'ratelimit-policy': '"app";q=5;w=60',
  };

  it('is 429 with the limit headers and a body, wherever the answer reaches the client', () => {
    for (const style of [PROXY_STYLE, API_STYLE, authRequestStyle(false)]) {
      const a = answerFor(limited, scope({ limitHeaders }), canLogin(), api, style);
      assert.equal(a.status, 429);
      assert.equal(a.reason, 'rate_limited');
      assert.equal(a.body, true);
      assert.deepEqual(a.headers, limitHeaders);
    }
  });

  it('is a bodiless 403 with Retry-After to nginx auth_request, which passes only 401 and 403 on', () => {
    const a = answerFor(limited, scope({ limitHeaders }), canLogin(), api, authRequestStyle(true));
    assert.equal(a.status, 403);
    assert.equal(a.reason, 'rate_limited');
    assert.equal(a.body, false);
    assert.equal(a.headers['retry-after'], '7');
  });
});

describe('answerFor: script requests (XHR / fetch) that need sign-in', () => {
  const page = 'https://app.example.com/app/dashboard';
  it('answers 401 with a sign_in_url back to the same-origin Referer page, never a 302', () => {
    for (const headers of [
      { accept: '*/*', 'sec-fetch-mode': 'cors', referer: page },
      { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest', referer: page },
      { accept: 'application/json', 'sec-fetch-mode': 'same-origin', referer: page },
    ]) {
      const a = answerFor(login, scope(), canLogin(), { method: 'GET', headers }, PROXY_STYLE);
      assert.equal(a.status, 401);
      assert.equal(a.headers.location, undefined);
      assert.equal(a.signInUrl, `https://app.example.com/.gatehouse/start?rd=${encodeURIComponent(page)}`);
    }
  });

  it('returns to the request URL when the Referer is cross-origin or absent', () => {
    const want = `https://app.example.com/.gatehouse/start?rd=${encodeURIComponent('https://app.example.com/app/orders?id=1&x=2')}`;
    for (const referer of ['https://evil.example/app', 'not a url', undefined]) {
      const headers = { 'sec-fetch-mode': 'cors', ...(referer ? { referer } : {}) };
      const a = answerFor(login, scope(), canLogin(), { method: 'POST', headers }, PROXY_STYLE);
      assert.equal(a.signInUrl, want);
    }
  });

  it('names no sign_in_url where the route cannot sign in, nor for a navigation', () => {
    const fetchReq: RequestHead = { method: 'GET', headers: { 'sec-fetch-mode': 'cors' } };
    assert.equal(
      answerFor(login, scope(), canLogin({ canLogin: false }), fetchReq, PROXY_STYLE).signInUrl,
      undefined,
    );
    const nav = answerFor(login, scope(), canLogin(), browser, PROXY_STYLE);
    assert.equal(nav.status, 302);
    assert.equal(nav.signInUrl, undefined);
  });

  it('keeps the 401 head-only for nginx auth_request from a trusted proxy', () => {
    const fetchReq: RequestHead = { method: 'GET', headers: { 'sec-fetch-mode': 'cors' } };
    const a = answerFor(login, scope(), canLogin(), fetchReq, authRequestStyle(true));
    assert.equal(a.status, 401);
    assert.equal(a.body, false);
  });
});
