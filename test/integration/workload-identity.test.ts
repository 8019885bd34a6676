/**
 * Workload identity through the real Gatehouse: Kubernetes service-account tokens and GitHub
 * Actions OIDC tokens as bearer credentials, from local issuers that publish discovery and
 * JWKS at the real issuers' paths and sign tokens with the real claim layout (RS256, kid).
 * Plus the machine rule keys end to end: `clients`, `scopes` (with the RFC 6750
 * insufficient_scope challenge naming them) and `source_ips` behind a trusted proxy.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { JWTPayload } from 'jose';
import { request } from 'undici';
import { stringify } from 'yaml';
import { type LogLine, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { type OidcIssuer, startOidcIssuer } from '../helpers/oidc-issuer.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

const now = () => Math.floor(Date.now() / 1000);

/** A projected service-account token's payload (`kubectl create token NAME --audience gatehouse`). */
function serviceAccountToken(iss: string, namespace: string, name: string): JWTPayload {
  const iat = now();
  return {
    aud: ['gatehouse'],
    exp: iat + 3600,
    iat,
    iss,
    jti: randomUUID(),
    'kubernetes.io': {
      namespace,
      node: { name: 'worker-1', uid: randomUUID() },
      pod: { name: `${name}-5d8f7b9c4-x2k7q`, uid: randomUUID() },
      serviceaccount: { name, uid: randomUUID() },
      warnafter: iat + 3607,
    },
    nbf: iat,
    sub: `system:serviceaccount:${namespace}:${name}`,
  };
}

/** A GitHub Actions OIDC token's payload for a job of `repo` on `ref` (or in `environment`). */
function actionsToken(
  iss: string,
  repo: string,
  where: { ref: string; environment?: string; workflow?: string },
): JWTPayload {
  const iat = now();
  const owner = repo.split('/')[0]!;
  const workflowFile = where.workflow ?? 'deploy.yml';
  return {
    jti: randomUUID(),
    sub:
      where.environment !== undefined
        ? `repo:${repo}:environment:${where.environment}`
        : `repo:${repo}:ref:${where.ref}`,
    ...(where.environment !== undefined ? { environment: where.environment } : {}),
    aud: `https://github.com/${owner}`,
    ref: where.ref,
    sha: 'd6f3a8e1c0b2d4f6a8e1c0b2d4f6a8e1c0b2d4f6',
    repository: repo,
    repository_owner: owner,
    actor_id: '12',
    repository_visibility: 'private',
    repository_id: '74',
    repository_owner_id: '65',
    run_id: '1234567890',
    run_number: '10',
    run_attempt: '1',
    runner_environment: 'github-hosted',
    actor: 'octocat',
    workflow: 'Deploy',
    head_ref: '',
    base_ref: '',
    event_name: 'push',
    ref_type: where.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    workflow_ref: `${repo}/.github/workflows/${workflowFile}@${where.ref}`,
    job_workflow_ref: `${repo}/.github/workflows/${workflowFile}@${where.ref}`,
    iss,
    nbf: iat - 5,
    exp: iat + 300,
    iat,
  };
}

describe('workload identity', () => {
  let upstream: EchoUpstream;
  let cluster: OidcIssuer;
  let actions: OidcIssuer;
  let corp: OidcIssuer;
  let gh: TestGatehouse;

  before(async () => {
    upstream = await startEchoUpstream();
    cluster = await startOidcIssuer({ jwksPath: '/openid/v1/jwks' });
    actions = await startOidcIssuer({
      jwksPath: '/.well-known/jwks',
      metadata: { claims_supported: ['sub', 'aud', 'repository', 'ref', 'environment', 'job_workflow_ref'] },
    });
    corp = await startOidcIssuer({ jwksPath: '/oauth2/v1/keys' });
    const api = (name: string, path: string, policy: unknown) => ({
      name,
      match: { path },
      upstream: upstream.url,
      auth: ['bearer'],
      policy,
    });
    gh = await startTestGatehouse(
      stringify({
        server: { trusted_proxies: ['127.0.0.1/32'] },
        bearer: [
          {
            issuer: cluster.issuer,
            name: 'cluster',
            audiences: ['gatehouse'],
            algorithms: ['RS256'],
            claims_mapper: 'kubernetes',
            roles: { map: { 'system:serviceaccounts:prod': 'prod-workload' } },
          },
          {
            issuer: actions.issuer,
            name: 'github',
            audiences: ['https://github.com/example-org'],
            algorithms: ['RS256'],
          },
          { issuer: corp.issuer, name: 'corp', audiences: ['api://orders'], algorithms: ['RS256'] },
        ],
        routes: [
          api('k8s-orders', '/k8s/orders', {
            allow: [
              {
                providers: ['cluster'],
                claims: {
                  'kubernetes.io.namespace': ['prod'],
                  'kubernetes.io.serviceaccount.name': ['orders'],
                },
              },
            ],
          }),
          api('k8s-rbac', '/k8s/rbac', { allow: [{ roles: ['prod-workload'] }] }),
          // No provider restriction: the claim path alone must not be spelled by another token.
          api('k8s-claim', '/k8s/claim', { allow: [{ claims: { 'kubernetes.io.namespace': ['prod'] } }] }),
          api('deploy', '/deploy', {
            allow: [
              {
                providers: ['github'],
                claims: {
                  repository: ['example-org/app'],
                  job_workflow_ref: ['example-org/app/.github/workflows/deploy.yml@refs/heads/main'],
                },
              },
              {
                providers: ['github'],
                claims: { repository: ['example-org/app'], environment: ['production'] },
              },
            ],
          }),
          api('orders', '/orders', {
            allow: [
              { clients: ['billing'], scopes: ['orders:read', 'orders:write'], source_ips: ['10.0.0.0/8'] },
            ],
          }),
        ],
      }),
    );
    await gh.ready();
  });
  after(async () => {
    await gh?.close();
    await Promise.all([cluster?.close(), actions?.close(), corp?.close(), upstream?.close()]);
  });

  /** A request with a token, from 127.0.0.1 (a trusted proxy) speaking for `client`. */
  async function call(path: string, token: string, client?: string) {
    const requestId = randomUUID();
    const res = await request(`${gh.url}${path}`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-request-id': requestId,
        ...(client === undefined ? {} : { 'x-forwarded-for': client }),
      },
    });
    const text = await res.body.text();
    const audit: LogLine = await gh.auditLine((l) => l.request_id === requestId);
    return { status: res.statusCode, headers: res.headers, text, audit };
  }

  it('finds the cluster keys by discovery at /openid/v1/jwks, as for a real API server', () => {
    assert.ok((cluster.hits.get('/.well-known/openid-configuration') ?? 0) >= 1);
    assert.ok((cluster.hits.get('/openid/v1/jwks') ?? 0) >= 1);
    assert.ok((actions.hits.get('/.well-known/jwks') ?? 0) >= 1);
  });

  it('Kubernetes: the allowed namespace and service account pass; another is denied with the reason', async () => {
    const ok = await call(
      '/k8s/orders',
      await cluster.sign(serviceAccountToken(cluster.issuer, 'prod', 'orders')),
    );
    assert.equal(ok.status, 200, ok.text);
    assert.equal(JSON.parse(ok.text).headers['x-auth-request-user'], 'system:serviceaccount:prod:orders');
    assert.equal(
      JSON.parse(ok.text).headers['x-auth-request-groups'],
      'system:serviceaccounts,system:serviceaccounts:prod',
    );
    assert.deepEqual([ok.audit.decision, ok.audit.rule, ok.audit.idp], ['allow', 'allow[0]', 'cluster']);

    for (const [ns, name] of [
      ['prod', 'billing'],
      ['dev', 'orders'],
    ] as const) {
      const no = await call('/k8s/orders', await cluster.sign(serviceAccountToken(cluster.issuer, ns, name)));
      assert.equal(no.status, 403, `${ns}/${name}`);
      assert.deepEqual([no.audit.decision, no.audit.reason], ['deny', 'no_rule_matched']);
      assert.equal(no.audit.sub, `system:serviceaccount:${ns}:${name}`);
    }
  });

  it('Kubernetes: the claims mapper gives RBAC groups, and roles.map maps them', async () => {
    const prod = await call(
      '/k8s/rbac',
      await cluster.sign(serviceAccountToken(cluster.issuer, 'prod', 'any')),
    );
    assert.equal(prod.status, 200);
    assert.equal(JSON.parse(prod.text).headers['x-auth-request-roles'], 'prod-workload');
    const dev = await call(
      '/k8s/rbac',
      await cluster.sign(serviceAccountToken(cluster.issuer, 'dev', 'any')),
    );
    assert.equal(dev.status, 403);
  });

  it('a token from another issuer cannot spell kubernetes.io.namespace with other claims', async () => {
    const lookAlike = {
      ...actionsToken(actions.issuer, 'example-org/app', { ref: 'refs/heads/main' }),
      aud: 'https://github.com/example-org',
      kubernetes: { io: { namespace: 'prod' } },
      'kubernetes.io.namespace': 'prod',
    };
    const res = await call('/k8s/claim', await actions.sign(lookAlike, { typ: 'JWT' }));
    assert.equal(res.status, 403);
    assert.equal(res.audit.reason, 'no_rule_matched');
    const real = await call(
      '/k8s/claim',
      await cluster.sign(serviceAccountToken(cluster.issuer, 'prod', 'x')),
    );
    assert.equal(real.status, 200);
  });

  it('GitHub Actions: the deploy workflow on main, or the production environment, pass', async () => {
    const header = { typ: 'JWT', x5t: 'ykNaY4qM_ta4k2TgZOCEYLkcYlA' };
    const main = await call(
      '/deploy',
      await actions.sign(actionsToken(actions.issuer, 'example-org/app', { ref: 'refs/heads/main' }), header),
    );
    assert.equal(main.status, 200, main.text);
    assert.equal(main.audit.rule, 'allow[0]');
    assert.equal(
      JSON.parse(main.text).headers['x-auth-request-user'],
      'repo:example-org/app:ref:refs/heads/main',
    );

    const production = await call(
      '/deploy',
      await actions.sign(
        actionsToken(actions.issuer, 'example-org/app', {
          ref: 'refs/tags/v1.2.0',
          environment: 'production',
        }),
        header,
      ),
    );
    assert.equal(production.status, 200);
    assert.equal(production.audit.rule, 'allow[1]');

    const refused = [
      actionsToken(actions.issuer, 'example-org/app', { ref: 'refs/heads/feature' }),
      actionsToken(actions.issuer, 'example-org/app', { ref: 'refs/heads/main', workflow: 'other.yml' }),
      actionsToken(actions.issuer, 'example-org/app', {
        ref: 'refs/heads/main',
        environment: 'staging',
        workflow: 'x.yml',
      }),
      actionsToken(actions.issuer, 'example-org/fork', { ref: 'refs/heads/main' }),
    ];
    for (const payload of refused) {
      const res = await call('/deploy', await actions.sign(payload, header));
      assert.equal(res.status, 403, String(payload.sub));
      assert.deepEqual([res.audit.decision, res.audit.reason], ['deny', 'no_rule_matched']);
    }
    // The same claims from the cluster issuer are not GitHub's word.
    const forged = await call(
      '/deploy',
      await cluster.sign({
        ...actionsToken(cluster.issuer, 'example-org/app', { ref: 'refs/heads/main' }),
        aud: ['gatehouse'],
      }),
    );
    assert.equal(forged.status, 403);
  });

  it('clients, scopes and source_ips: all three must hold; a missing scope is named to the client', async () => {
    const token = (extra: JWTPayload) => {
      const iat = now();
      return corp.sign(
        { iss: corp.issuer, aud: 'api://orders', sub: 'svc', iat, exp: iat + 600, ...extra },
        { typ: 'at+jwt' },
      );
    };
    const full = await token({ client_id: 'billing', scope: 'orders:read orders:write' });
    const ok = await call('/orders', full, '10.1.2.3');
    assert.equal(ok.status, 200);
    assert.equal(ok.audit.client_ip, '10.1.2.3');

    const outside = await call('/orders', full, '192.0.2.10');
    assert.equal(outside.status, 403);
    assert.equal(outside.audit.reason, 'no_rule_matched');

    const mapped = await call('/orders', full, '::ffff:10.9.9.9');
    assert.equal(mapped.status, 200, 'an IPv4-mapped client address is its IPv4 address');

    const lacking = await call(
      '/orders',
      await token({ client_id: 'billing', scp: ['orders:read'] }),
      '10.1.2.3',
    );
    assert.equal(lacking.status, 403);
    assert.deepEqual([lacking.audit.reason, lacking.audit.rule], ['insufficient_scope', 'allow[0]']);
    assert.equal(
      lacking.headers['www-authenticate'],
      'Bearer realm="gatehouse", error="insufficient_scope", scope="orders:read orders:write"',
    );
    assert.equal(JSON.parse(lacking.text).error, 'insufficient_scope');

    const stranger = await call(
      '/orders',
      await token({ azp: 'mobile', scope: 'orders:read orders:write' }),
      '10.1.2.3',
    );
    assert.equal(stranger.status, 403);
    assert.equal(stranger.audit.reason, 'no_rule_matched');
    assert.equal(
      stranger.headers['www-authenticate'],
      'Bearer realm="gatehouse", error="insufficient_scope"',
    );
  });
});
