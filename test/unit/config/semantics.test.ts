import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load.ts';
import { validateSemantics } from '../../../src/config/semantics.ts';
import { ConfigError, type ConfigProblem } from '../../../src/errors.ts';

const SECRET = 'x'.repeat(32);
/** oidc + session + one bearer issuer: every auth type is usable. */
const LOGIN = `server: { public_url: https://app.example.com }
oidc: { issuer: https://idp.example.com, client_id: gh, client_secret: s }
session: { secrets: [${SECRET}] }
bearer: [ { issuer: https://idp.example.com, audiences: [api] } ]
roles: { map: { Okta-Admins: admin, Eng: [dev, reader] } }
`;

function parse(text: string) {
  return parseConfig(text, 'gh.yaml', { env: {}, readFile: () => '' });
}

function problems(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p: ConfigProblem) => `${p.line}:${p.col} ${p.path}: ${p.message}`);
  }
  assert.fail('the config was accepted');
}

describe('validateSemantics', () => {
  it('accepts a consistent config, without mutating it', () => {
    const { config } = parse(
      `${LOGIN}routes:\n  - { name: a, upstream: http://a, policy: { allow: [ { roles: [admin, reader] } ] } }\ntests:\n  - { url: https://app.example.com/x, expect: allow }\n`,
    );
    assert.deepEqual(validateSemantics(config), []);
  });

  it('refuses server-side sessions in a per-process memory store with several workers', () => {
    const routes = 'routes:\n  - { name: a, upstream: http://a, policy: public }\n';
    const text = (store: string, workers: string) =>
      `${LOGIN.replace('server: { public_url: https://app.example.com }', `server: { public_url: https://app.example.com, workers: ${workers} }`).replace(`session: { secrets: [${SECRET}] }`, `session: { secrets: [${SECRET}], storage: store }`)}store: ${store}\n${routes}`;
    assert.deepEqual(problems(text('memory', '2')), [
      '3:57 session.storage: session.storage: store with store: memory works in one process only: set store to redis://… for server.workers',
    ]);
    assert.deepEqual(validateSemantics(parse(text('redis://r:6379', '2')).config), []);
    assert.deepEqual(validateSemantics(parse(text('memory', '1')).config), []);
  });

  it('refuses duplicate route names at the second name', () => {
    assert.deepEqual(
      problems(
        `routes:\n  - { name: a, upstream: http://a, policy: public }\n  - name: a\n    upstream: http://b\n    policy: public\n`,
      ),
      ['3:11 routes[1].name: duplicate route name "a" (first at routes[0])'],
    );
  });

  it('needs a session with oidc, oidc with a session, and public_url with oidc', () => {
    const routes = 'routes: [ { name: a, upstream: http://a, policy: public } ]\n';
    assert.deepEqual(
      problems(`oidc: { issuer: https://idp.example.com, client_id: gh, client_secret: s }\n${routes}`),
      [
        '1:1 server.public_url: server.public_url is required with oidc: the redirect_uri is public_url + endpoints_prefix + /callback',
        '1:1 session: oidc is configured but session is not: a browser login needs session.secrets to keep the session',
      ],
    );
    assert.deepEqual(problems(`${routes}session:\n  secrets: [${SECRET}]\n`), [
      '2:1 session: session is configured but oidc is not: sessions come from the OIDC login',
    ]);
  });

  it('needs the client credential the token endpoint auth method uses', () => {
    const text = `${LOGIN.replace('client_secret: s', 'token_endpoint_auth_method: private_key_jwt')}routes: [ { name: a, upstream: http://a, policy: public } ]\n`;
    assert.deepEqual(problems(text), [
      '2:1 oidc.private_key: private_key is required with "private_key_jwt"',
    ]);
  });

  it('refuses a protected route nothing can authenticate on', () => {
    const route =
      'routes:\n  - name: a\n    upstream: http://a\n    auth: [bearer]\n    policy: { allow: [ { authenticated: true } ] }\n';
    assert.deepEqual(problems(route), [
      '4:11 routes[0].auth: nothing can ever authenticate on this route: auth is [bearer] but no bearer issuers are configured',
    ]);
    // The default auth [session, bearer]: positioned at the route, since auth is not written.
    assert.deepEqual(problems(route.replace('    auth: [bearer]\n', '')), [
      '2:5 routes[0].auth: nothing can ever authenticate on this route: auth is [session, bearer] but no session/oidc login is configured and no bearer issuers are configured',
    ]);
    // A session makes [session, bearer] usable even without bearer issuers.
    const withLogin = LOGIN.replace(/bearer: .*\n/, '');
    assert.equal(parse(`${withLogin}${route.replace('    auth: [bearer]\n', '')}`).config.bearer.length, 0);
    // A public route needs no credentials at all.
    assert.equal(
      parse(route.replace('{ allow: [ { authenticated: true } ] }', 'public')).config.routes.length,
      1,
    );
  });

  it('refuses a role that roles.map never produces, at the role', () => {
    const text = `${LOGIN}routes:\n  - name: a\n    upstream: http://a\n    policy:\n      allow: [ { roles: [admin] } ]\n      deny:\n        - roles: [dev, Okta-Admins]\n`;
    assert.deepEqual(problems(text), [
      '12:24 routes[0].policy.deny[0].roles[1]: unknown role "Okta-Admins" – roles come from roles.map; the known roles are admin, dev, reader',
    ]);
  });

  it('refuses a route under the endpoints prefix', () => {
    assert.deepEqual(
      problems(
        'server: { endpoints_prefix: /oauth2 }\nroutes:\n  - { name: a, upstream: http://a, policy: public, match: { path: /oauth2/x } }\n',
      ),
      [
        '3:67 routes[0].match.path: "/oauth2/x" is under server.endpoints_prefix "/oauth2": gatehouse answers those paths itself, so this route is never reached',
      ],
    );
    assert.equal(
      parse('routes: [ { name: a, upstream: http://a, policy: public, match: { path: /oauth22 } } ]\n').config
        .routes.length,
      1,
    );
  });

  it('refuses the same bearer issuer twice', () => {
    const twice =
      'bearer: [ { issuer: https://idp.example.com, audiences: [api] }, { issuer: https://idp.example.com, audiences: [x] } ]';
    const text = `${LOGIN.replace(/bearer: .*/, twice)}routes: [ { name: a, upstream: http://a, policy: public } ]\n`;
    assert.deepEqual(problems(text), [
      '4:76 bearer[1].issuer: issuer "https://idp.example.com" is listed twice (first at bearer[0])',
    ]);
  });

  it('refuses a policy test whose URL no route matches', () => {
    const text = `routes:\n  - { name: a, upstream: http://a, policy: public, match: { host: app.example.com, path: /app, methods: [GET] } }\ntests:\n  - { url: https://app.example.com/app/x, expect: allow }\n  - { url: https://other.example.com/app, expect: allow }\n  - { url: https://app.example.com/application, expect: allow }\n  - { url: https://app.example.com/app, method: post, expect: allow }\n`;
    assert.deepEqual(problems(text), [
      '5:12 tests[1].url: no route matches GET https://other.example.com/app',
      '6:12 tests[2].url: no route matches GET https://app.example.com/application',
      '7:12 tests[3].url: no route matches POST https://app.example.com/app',
    ]);
  });
});

describe('provider checks', () => {
  const providers = (extra = '') => `server: { public_url: https://app.example.com }
oidc:
  - { name: corp, issuer: https://kc.example, client_id: a, client_secret: s, claims_mapper: keycloak }
  - { name: partners, issuer: https://cg.example, client_id: b, client_secret: s, claims_mapper: cognito }
${extra}session: { secrets: [${SECRET}] }
`;
  const route =
    'routes:\n  - { name: r, upstream: http://a, policy: { allow: [ { authenticated: true } ] } }\n';

  it('accepts named providers, providers on routes, rules and tests, and a linked bearer issuer', () => {
    const { config } = parse(
      `${providers()}bearer: [ { issuer: https://kc.example, audiences: [api] } ]
routes:
  - { name: r, upstream: http://a, providers: [corp], policy: { allow: [ { providers: [partners, corp] } ] } }
tests:
  - { url: https://app.example.com/, provider: corp, claims: { sub: x }, expect: allow }
`,
    );
    assert.deepEqual(validateSemantics(config), []);
  });

  it('refuses a nameless provider in a list and a duplicate name, at the entry', () => {
    const text = `server: { public_url: https://app.example.com }
oidc:
  - { name: corp, issuer: https://kc.example, client_id: a, client_secret: s }
  - { issuer: https://x.example, client_id: c, client_secret: s }
  - { name: corp, issuer: https://y.example, client_id: c, client_secret: s }
session: { secrets: [${SECRET}] }
${route}`;
    assert.deepEqual(problems(text), [
      '4:5 oidc[1]: each provider in the oidc list needs a name',
      '5:13 oidc[2].name: provider name "corp" is already used at oidc[0]',
    ]);
  });

  it('refuses two entries for one issuer with different claim mappings', () => {
    assert.deepEqual(
      problems(
        `${providers('bearer: [ { issuer: https://kc.example, audiences: [api], claims_mapper: okta } ]\n')}${route}`,
      ),
      [
        '5:11 bearer[0]: issuer "https://kc.example" already has a different claim mapping at oidc[0]: one issuer\'s tokens must map to the same roles wherever they are read',
      ],
    );
  });

  it('refuses unknown providers on a route, in a rule and in a test, naming the known ones', () => {
    const text = `${providers()}routes:
  - { name: r, upstream: http://a, providers: [corp, nope], policy: { allow: [ { providers: [zzz] } ] } }
tests:
  - { url: https://app.example.com/, provider: who, claims: { sub: x }, expect: allow }
`;
    assert.deepEqual(problems(text), [
      '7:54 routes[0].providers[1]: unknown provider "nope" – providers are "corp", "partners"',
      '7:94 routes[0].policy.allow[0].providers[0]: unknown provider "zzz" – providers are "corp", "partners"',
      '9:48 tests[0].provider: unknown provider "who" – providers are "corp", "partners"',
    ]);
  });

  it('refuses a malformed claim path where it is written, top-level and per provider', () => {
    const text = `${providers('bearer: [ { issuer: https://other.example, audiences: [api], roles: { claims: [x..y] } } ]\n')}roles: { claims: [groups, "a..b"] }
${route}`;
    assert.deepEqual(
      problems(text).map((p) => p.replace(/^\d+:\d+ /, '')),
      [
        'bearer[0].roles.claims[0]: must be a dotted claim path such as a.b.c',
        'roles.claims[1]: must be a dotted claim path such as a.b.c',
      ],
    );
  });

  it('ties claims_namespace to auth0, and auth0 to a namespace', () => {
    const text = `server: { public_url: https://app.example.com }
oidc:
  - { name: a, issuer: https://a.example, client_id: a, client_secret: s, claims_mapper: auth0 }
  - { name: b, issuer: https://b.example, client_id: b, client_secret: s, claims_namespace: https://b.example/ }
session: { secrets: [${SECRET}] }
${route}`;
    assert.deepEqual(
      problems(text).map((p) => p.replace(/^\d+:\d+ /, '')),
      [
        'oidc[0].claims_mapper: claims_mapper auth0 needs claims_namespace: the prefix of its custom claims, e.g. https://example.com/',
        'oidc[1].claims_namespace: claims_namespace only applies to claims_mapper: auth0',
      ],
    );
  });

  it("refuses a bearer name for an issuer that is a provider's under another name", () => {
    assert.deepEqual(
      problems(
        `${providers('bearer: [ { issuer: https://kc.example, audiences: [api], name: kc } ]\n')}${route}`,
      ).map((p) => p.replace(/^\d+:\d+ /, '')),
      ['bearer[0].name: issuer "https://kc.example" is oidc provider "corp": its tokens carry that name'],
    );
  });

  it('issue-20: checks what parsed beside what did not, in one pass', () => {
    const text = `${LOGIN}routes:
  - { name: a, upstream: ftp://a, policy: public }
  - { name: b, upstream: http://b, polcy: public }
  - { name: c, upstream: http://c, policy: { allow: [ { roles: [admn] } ] } }
  - { name: a, upstream: http://d, policy: public }
`;
    assert.deepEqual(problems(text), [
      '7:26 routes[0].upstream: must be an absolute http(s) URL',
      '8:5 routes[1].policy: missing required key "policy"',
      '8:36 routes[1].polcy: unknown key "polcy" – did you mean "policy"?',
      '9:65 routes[2].policy.allow[0].roles[0]: unknown role "admn" – roles come from roles.map; the known roles are admin, dev, reader',
    ]);
  });

  it('issue-20: stays quiet about checks whose section the schema refused', () => {
    // roles.map is refused, so every role would look unknown: the role check is skipped.
    const text = `server: { public_url: https://app.example.com }
roles: { map: [admin] }
bearer: [ { issuer: https://idp.example.com, audiences: [api] } ]
routes:
  - { name: a, upstream: http://a, auth: [bearer], policy: { allow: [ { roles: [admin] } ] } }
`;
    assert.deepEqual(problems(text), ['2:15 roles.map: expected a map, got a list']);
  });
});
