import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/config/schema.ts';
import { explain, formatExplain } from '../../../src/policy/explain.ts';

const config = configSchema.parse({
  roles: { claims: ['groups', 'realm_access.roles'], map: { 'Okta-Admins': 'admin' } },
  routes: [
    {
      name: 'admin',
      match: { host: 'app.example.com', path: '/admin', methods: ['GET', 'POST'] },
      upstream: 'http://127.0.0.1:9000',
      policy: { allow: [{ roles: ['admin'] }], deny: [{ groups: ['Suspended'] }] },
    },
    {
      name: 'api',
      match: { host: 'app.example.com', path: '/api' },
      upstream: 'http://127.0.0.1:9001',
      auth: ['bearer'],
      policy: { allow: [{ authenticated: true }] },
    },
    {
      name: 'beta',
      match: { host: 'app.example.com', path: '/beta' },
      upstream: 'http://127.0.0.1:9002',
      enforce: false,
      policy: { allow: [{ email_domains: ['example.com'] }] },
    },
    {
      name: 'assets',
      match: { host: 'app.example.com', path: '/static' },
      upstream: 'http://127.0.0.1:9003',
      policy: 'public',
    },
  ],
});

describe('explain', () => {
  it('allows a mapped role and names the rule', () => {
    const r = explain(config, {
      url: 'https://app.example.com/admin/users',
      claims: { groups: ['Okta-Admins'] },
    });
    assert.deepEqual(r, {
      route: 'admin',
      upstream: 'http://127.0.0.1:9000/',
      groups: ['Okta-Admins'],
      roles: ['admin'],
      scopes: [],
      unmappedGroups: [],
      decision: 'allow',
      reason: 'policy_allowed',
      rule: 'allow[0]',
      dryRun: false,
      enforcedDecision: 'allow',
      trace: [
        { rule: 'deny[0]', matched: false, checks: [{ key: 'groups', matched: false }] },
        { rule: 'allow[0]', matched: true, checks: [{ key: 'roles', matched: true }] },
      ],
      missing: [],
      candidates: [],
    });
  });

  it('deny rules win and are reported', () => {
    const r = explain(config, {
      url: 'https://app.example.com/admin',
      claims: { sub: 'u', email: 'a@example.com', groups: ['Okta-Admins', 'Suspended'] },
    });
    assert.equal(r.decision, 'deny');
    assert.equal(r.reason, 'policy_denied');
    assert.equal(r.rule, 'deny[0]');
    assert.equal(r.email, 'a@example.com');
  });

  it('anonymous needs login; public routes allow anyone', () => {
    const anon = explain(config, { url: 'https://app.example.com/admin' });
    assert.equal(anon.decision, 'login');
    assert.equal(anon.reason, 'no_credentials');
    assert.deepEqual(anon.groups, []);
    const pub = explain(config, { url: 'https://app.example.com/static/app.js' });
    assert.equal(pub.decision, 'allow');
    assert.equal(pub.reason, 'public_route');
  });

  it('reports no_route for unmatched host, path or method', () => {
    for (const input of [
      { url: 'https://other.example.com/admin' },
      { url: 'https://app.example.com/administrator' },
      { url: 'https://app.example.com/admin', method: 'delete' },
    ]) {
      const r = explain(config, input);
      assert.equal(r.decision, 'no_route', JSON.stringify(input));
      assert.equal(r.reason, 'route_not_found');
      assert.equal(r.route, undefined);
    }
  });

  it('routes on the normalized path, as the proxy does', () => {
    const r = explain(config, { url: 'https://app.example.com/static/../admin', claims: { groups: ['x'] } });
    assert.equal(r.route, 'admin');
    assert.equal(r.decision, 'deny');
    assert.throws(() => explain(config, { url: 'https://app.example.com/admin%2Fx' }), {
      code: 'bad_request',
    });
    assert.throws(() => explain(config, { url: 'not a url' }), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('a credential the route does not accept counts as none', () => {
    const r = explain(config, {
      url: 'https://app.example.com/api/x',
      claims: { sub: 'u' },
      authType: 'session',
    });
    assert.equal(r.decision, 'login');
    assert.equal(r.reason, 'auth_type_not_allowed');
    const ok = explain(config, {
      url: 'https://app.example.com/api/x',
      claims: { sub: 'u' },
      authType: 'bearer',
    });
    assert.equal(ok.decision, 'allow');
  });

  it('dry run allows but shows the enforced decision', () => {
    const r = explain(config, { url: 'https://app.example.com/beta', claims: { email: 'a@evil.io' } });
    assert.equal(r.decision, 'allow');
    assert.equal(r.dryRun, true);
    assert.equal(r.enforcedDecision, 'deny');
    assert.equal(r.reason, 'no_rule_matched');
  });
});

describe('formatExplain', () => {
  it('prints key: value lines', () => {
    const r = explain(config, {
      url: 'https://app.example.com/admin',
      claims: { groups: ['Suspended', 'Okta-Admins'] },
    });
    assert.equal(
      formatExplain(r),
      [
        'route: admin',
        'upstream: http://127.0.0.1:9000/',
        'decision: deny',
        'reason: policy_denied',
        'rule: deny[0]',
        'groups: Suspended,Okta-Admins',
        'roles: admin',
        'unmapped_groups: Suspended (no roles.map entry: they give no role)',
        'check: deny[0] yes (groups: yes)',
        'check: allow[0] yes (roles: yes)',
        'denied_by: deny[0] refuses groups [Suspended]; you have [Suspended, Okta-Admins]',
        '',
      ].join('\n'),
    );
  });

  it('prints dry-run and no-route results', () => {
    const dry = formatExplain(explain(config, { url: 'https://app.example.com/beta' }));
    assert.match(dry, /^route: beta\n/);
    assert.match(dry, /\ndecision: allow\nreason: no_credentials\ndry_run: true\nenforced_decision: login\n/);
    assert.equal(
      formatExplain(explain(config, { url: 'https://nowhere.example/' })),
      [
        'decision: no_route',
        'reason: route_not_found',
        'groups: ',
        'roles: ',
        'candidate: admin: host app.example.com, path /admin, methods [GET, POST]',
        'candidate: api: host app.example.com, path /api',
        'candidate: beta: host app.example.com, path /beta',
        'candidate: assets: host app.example.com, path /static',
        '',
      ].join('\n'),
    );
  });

  it('issue-20: names what an allow rule missed, and the routes near a path no route matched', () => {
    const r = explain(config, { url: 'https://app.example.com/admin', claims: { groups: ['Eng'] } });
    assert.deepEqual(r.missing, ['allow[0] needs roles [admin]; you have []']);
    assert.deepEqual(r.unmappedGroups, ['Eng']);
    const anonymous = explain(config, { url: 'https://app.example.com/admin' });
    assert.match(anonymous.missing[0]!, /signed-in caller/);
    const wrongHost = explain(config, { url: 'https://other.example.com/admin/x' });
    assert.deepEqual(wrongHost.candidates, ['admin: host app.example.com, path /admin, methods [GET, POST]']);
  });
});

describe('explain: machine callers', () => {
  const machines = configSchema.parse({
    routes: [
      {
        name: 'orders',
        match: { host: 'api.example.com', path: '/orders' },
        upstream: 'http://127.0.0.1:9100',
        auth: ['bearer'],
        policy: {
          allow: [
            { clients: ['billing'], scopes: ['orders:read', 'orders:write'], source_ips: ['10.0.0.0/8'] },
            { auth_types: ['dpop'], clients: ['mobile'] },
          ],
        },
      },
    ],
  });
  const url = 'https://api.example.com/orders/1';

  it('shows client, scopes, source address and why each rule matched or not', () => {
    const r = explain(machines, {
      url,
      authType: 'bearer',
      clientId: 'billing',
      scopes: ['orders:read'],
      sourceIp: '::ffff:10.1.2.3',
    });
    assert.equal(r.decision, 'deny');
    assert.equal(r.reason, 'insufficient_scope');
    assert.equal(r.rule, 'allow[0]');
    assert.equal(r.requiredScope, 'orders:read orders:write');
    assert.equal(r.clientId, 'billing');
    assert.deepEqual(r.scopes, ['orders:read']);
    assert.equal(r.sourceIp, '10.1.2.3', 'IPv4-mapped, as the proxy sees it');
    const text = formatExplain(r);
    assert.match(text, /^client_id: billing$/m);
    assert.match(text, /^scopes: orders:read$/m);
    assert.match(text, /^source_ip: 10\.1\.2\.3$/m);
    assert.match(text, /^required_scope: orders:read orders:write$/m);
    assert.match(text, /^check: allow\[0\] no \(clients: yes, source_ips: yes, scopes: no\)$/m);
    assert.match(text, /^check: allow\[1\] no \(auth_types: no, clients: no\)$/m);
  });

  it('dpop and mtls are bearer tokens with a proven key; the route auth list sees bearer', () => {
    const plain = explain(machines, { url, authType: 'bearer', clientId: 'mobile' });
    assert.equal(plain.reason, 'no_rule_matched');
    const bound = explain(machines, { url, authType: 'dpop', clientId: 'mobile' });
    assert.deepEqual([bound.decision, bound.rule, bound.authType], ['allow', 'allow[1]', 'dpop']);
    const mtls = explain(machines, { url, authType: 'mtls', clientId: 'mobile' });
    assert.equal(mtls.decision, 'deny');
  });

  it('without a source address an address rule does not match; bad input is refused', () => {
    const r = explain(machines, {
      url,
      authType: 'bearer',
      clientId: 'billing',
      scopes: ['orders:read', 'orders:write'],
    });
    assert.equal(r.reason, 'no_rule_matched');
    assert.throws(() => explain(machines, { url, sourceIp: '10.0.0.0/8', claims: {} }), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    assert.throws(() => explain(machines, { url, clientId: 'a', claims: { azp: 'b' } }), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    assert.throws(() => explain(machines, { url, scopes: ['a'], claims: { scp: ['b'] } }), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });
});
