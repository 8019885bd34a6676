/**
 * `check` in process: a Runtime from the production builder, fake requests, no sockets. Each
 * case asserts the verdict and what the check left on the scope for the answer and the audit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fakeRequestMaker, SESSION_SECRET, sessionCookieHeader } from '../../../bench/lib/fixtures.ts';
import { parseRequestTarget } from '../../../src/http/request-target.ts';
import { type CheckOptions, check, type Verdict } from '../../../src/pipeline/check.ts';
import { credentialsOf } from '../../../src/pipeline/identify.ts';
import type { Runtime } from '../../../src/pipeline/runtime.ts';
import { createScope, type Scope } from '../../../src/pipeline/scope.ts';
import { buildTestRuntime } from '../../helpers/runtime.ts';

const IDP = 'https://idp.test';
const YAML = `server:
  public_url: http://app.example.com
oidc:
  issuer: ${IDP}
  client_id: app
  client_secret: app-client-secret
session:
  secrets: [${SESSION_SECRET}]
bearer:
  - issuer: https://tokens.test
    audiences: [api://app]
    jwks_uri: https://tokens.test/jwks
roles:
  map: { Engineering: developer, Ops: operator }
routes:
  - name: public
    match: { path: /public }
    upstream: http://127.0.0.1:9000
    policy: public
  - name: app
    match: { path: /app }
    upstream: http://127.0.0.1:9000
    policy: { allow: [{ roles: [developer] }] }
  - name: ops
    match: { path: /ops }
    upstream: http://127.0.0.1:9000
    policy: { allow: [{ roles: [operator] }] }
  - name: writes
    match: { path: /app/orders, methods: [POST] }
    upstream: http://127.0.0.1:9000
    policy: { allow: [{ roles: [operator] }] }
  - name: machines
    match: { path: /machines }
    upstream: http://127.0.0.1:9000
    auth: [bearer]
    policy: { allow: [{ authenticated: true }] }
`;

describe('check', () => {
  let rt: Runtime;
  let cookie: string;
  before(async () => {
    rt = await buildTestRuntime(YAML);
    cookie = await sessionCookieHeader(IDP);
  });
  after(() => rt.close());

  const run = async (url: string, lines: [string, string][] = [], opts?: CheckOptions, method?: string) => {
    const req = fakeRequestMaker(url, [['Host', 'app.example.com'], ...lines])();
    const scope: Scope = createScope(req, rt.isTrustedProxy);
    if (method) scope.method = method; // what an auth subrequest's entry point sets from its headers
    scope.target = parseRequestTarget(req.url);
    const verdict: Verdict = await check(scope, credentialsOf(req), rt, opts);
    return { verdict, scope };
  };

  it('allows a public route without identifying anyone', async () => {
    const { verdict, scope } = await run('/public/app.js', [['Cookie', cookie]]);
    assert.deepEqual(verdict, { outcome: 'allow', reason: 'public_route', headers: {} });
    assert.equal(scope.route?.name, 'public');
    assert.equal(scope.identity, undefined, 'a public route reads no credential');
  });

  it('asks an anonymous caller to log in, and records the decision', async () => {
    const { verdict, scope } = await run('/app/x');
    assert.equal(verdict.outcome, 'login');
    assert.equal(verdict.reason, 'no_credentials');
    assert.equal(scope.decision?.outcome, 'login');
  });

  it('allows a session whose role the rule needs, with identity headers and an assertion', async () => {
    const { verdict, scope } = await run('/app/orders', [['Cookie', cookie]]);
    assert.equal(verdict.outcome, 'allow');
    assert.equal(verdict.reason, 'policy_allowed');
    if (verdict.outcome !== 'allow') return;
    assert.equal(verdict.headers['x-auth-request-user'], 'bench-user');
    assert.equal(verdict.headers['x-auth-request-roles'], 'developer');
    assert.match(verdict.headers['x-gatehouse-assertion'] ?? '', /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(scope.identity?.authType, 'session');
    assert.equal(scope.decision?.rule, 'allow[0]');
  });

  it('denies a session without the role, naming no rule that matched', async () => {
    const { verdict, scope } = await run('/ops', [['Cookie', cookie]]);
    assert.deepEqual([verdict.outcome, verdict.reason], ['deny', 'no_rule_matched']);
    assert.equal(scope.identity?.sub, 'bench-user', 'the identity stays for the audit line');
  });

  it('gives the refused credential as the reason, not a generic no_credentials', async () => {
    const bad = await run('/app/x', [['Authorization', 'Bearer not-a-jwt']]);
    assert.deepEqual([bad.verdict.outcome, bad.verdict.reason], ['login', 'token_malformed']);
    const kind = await run('/machines', [['Cookie', cookie]]);
    assert.deepEqual([kind.verdict.outcome, kind.verdict.reason], ['login', 'no_credentials']);
    const sessionOnly = await run('/machines', [['Authorization', 'Bearer a.b.c']]);
    assert.equal(sessionOnly.verdict.outcome, 'login');
    assert.notEqual(sessionOnly.verdict.reason, 'no_credentials');
  });

  it('refuses a repeated Authorization header instead of reading the first', async () => {
    const req = fakeRequestMaker('/app/x', [['Host', 'app.example.com']])();
    const scope = createScope(req, rt.isTrustedProxy);
    scope.target = parseRequestTarget(req.url);
    const verdict = await check(scope, { authorization: ['Bearer a.b.c', 'Bearer d.e.f'], cookie }, rt);
    assert.equal(verdict.outcome, 'login');
    assert.equal(verdict.reason, 'token_malformed');
    assert.equal(scope.identity, undefined, 'the session cookie beside it is not used either');
  });

  it('ends a revoked session: reason session_revoked and a cookie that clears it', async () => {
    const first = await run('/app/orders', [['Cookie', cookie]]);
    assert.equal(first.verdict.outcome, 'allow');
    const id = (await rt.sessions!.read(cookie)).session!.id;
    await rt.store.revoke(id, Math.floor(Date.now() / 1000) + 3600);
    const { verdict, scope } = await run('/app/orders', [['Cookie', cookie]]);
    assert.deepEqual([verdict.outcome, verdict.reason], ['login', 'session_revoked']);
    assert.ok(
      scope.setCookies?.some((c) => /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)),
      'cleared',
    );
    cookie = await sessionCookieHeader(IDP); // a fresh session for the cases after this one
  });

  it('is an error verdict when no route matches, or a named route does not exist', async () => {
    assert.deepEqual((await run('/nowhere')).verdict, { outcome: 'error', reason: 'route_not_found' });
    const named = await run('/anything', [], { routeName: 'app' });
    assert.equal(named.scope.route?.name, 'app');
    assert.deepEqual((await run('/anything', [], { routeName: 'nope' })).verdict.reason, 'route_not_found');
  });

  it("matches the route with the scope's method (an auth subrequest's original one)", async () => {
    assert.equal((await run('/app/orders', [['Cookie', cookie]])).scope.route?.name, 'app');
    const post = await run('/app/orders', [['Cookie', cookie]], undefined, 'POST');
    assert.equal(post.scope.route?.name, 'writes');
    assert.equal(post.verdict.outcome, 'deny');
  });

  it('narrows an allow with ?allowed_groups, never widens it', async () => {
    const narrowed = await run('/app/x', [['Cookie', cookie]], { restrict: '?allowed_groups=Ops' });
    assert.deepEqual([narrowed.verdict.outcome, narrowed.verdict.reason], ['deny', 'policy_denied']);
    const kept = await run('/app/x', [['Cookie', cookie]], { restrict: '?allowed_groups=Berlin,Ops' });
    assert.equal(kept.verdict.outcome, 'allow');
    const nothing = await run('/app/x', [['Cookie', cookie]], { restrict: '?route=app' });
    assert.equal(nothing.verdict.outcome, 'allow', 'a query without restrictions restricts nothing');
    const denied = await run('/ops', [['Cookie', cookie]], { restrict: '?allowed_groups=Engineering' });
    assert.equal(denied.verdict.outcome, 'deny');
  });

  it('decides against a guard instead of a route, without identity headers', async () => {
    const guard = {
      accepts: { auth: ['session'] },
      policy: { isPublic: false, decide: rt.policies.get('app')!.decide },
    };
    const { verdict, scope } = await run('/.gatehouse/userinfo', [['Cookie', cookie]], { guard });
    assert.deepEqual(verdict, { outcome: 'allow', reason: 'policy_allowed', headers: {} });
    assert.equal(scope.route, undefined);
  });
});
