/**
 * Envoy's ext_authz filter over gRPC: `envoy.service.auth.v3.Authorization/Check` on
 * `ext_authz.grpc.listen`. No Envoy binary exists here, so a grpc-js client built from Envoy's
 * published protos (the same files the service loads) sends `CheckRequest`s shaped as Envoy
 * fills them: method, host, scheme, path with query, lower-case headers (or `header_map` with
 * raw values), the downstream address.
 * @see https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/external_auth.proto
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { parse } from 'yaml';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { IDENTITY_HEADERS } from '../../src/identity/headers.ts';
import type {
  CheckRequest,
  CheckResponse,
  HttpRequestAttributes,
} from '../../src/pipeline/ext-authz-grpc.ts';
import { loadAuthorization } from '../../src/server/ext-authz-grpc.ts';
import { idpBearer, route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { machineToken } from './bearer-helpers.ts';

const HOST = 'app.example.test';
/** `envoy.type.v3.StatusCode` names of the statuses this suite expects. */
const HTTP_STATUS: Record<string, number> = {
  Found: 302,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  TooManyRequests: 429,
};

type CheckClient = grpc.Client & {
  Check(req: CheckRequest, cb: (err: grpc.ServiceError | null, res: CheckResponse) => void): void;
};

describe('Envoy ext_authz (gRPC service)', () => {
  let idp: DevIdp;
  let gh: TestGatehouse;
  let untrusting: TestGatehouse;
  let onSocket: TestGatehouse;
  let socketDir: string;
  let token: string;
  const clients: grpc.Client[] = [];

  const clientFor = async (address: string): Promise<CheckClient> => {
    const Authorization = await loadAuthorization(grpc);
    const client = new Authorization(address, grpc.credentials.createInsecure()) as unknown as CheckClient;
    clients.push(client);
    return client;
  };
  const grpcAddress = (t: TestGatehouse) => t.gh.extAuthzGrpc!.address;

  before(async () => {
    const port = await freePort();
    idp = await startDevIdp({ redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`] });
    socketDir = mkdtempSync(join(tmpdir(), 'gh-grpc-'));
    const config = (trusted: string[], listen = '127.0.0.1:0') =>
      testConfig({
        idp,
        server: { trusted_proxies: trusted },
        ext_authz: { grpc: { listen } },
        bearer: [idpBearer(idp, { algorithms: ['ES256'], typ: 'at+jwt' })],
        roles: { claims: ['groups'], map: { admins: 'admin' } },
        routes: [
          route('public', '/public', 'http://127.0.0.1:9', { policy: 'public' }),
          route('limited', '/limited', 'http://127.0.0.1:9', {
            policy: 'public',
            rate_limit: { per: 'ip', requests: 1, window: '1m' },
          }),
          route('admin', '/admin', 'http://127.0.0.1:9', { policy: { allow: [{ roles: ['admin'] }] } }),
          route('app', '/', 'http://127.0.0.1:9'),
        ],
      });
    gh = await startTestGatehouse(config(['127.0.0.1/32']), { port });
    untrusting = await startTestGatehouse(config([]));
    onSocket = await startTestGatehouse(config([], `unix:${join(socketDir, 'ext-authz.sock')}`));
    await gh.ready();
    token = await machineToken(idp);
  });
  after(async () => {
    for (const c of clients) c.close();
    await gh?.close();
    await untrusting?.close();
    await onSocket?.close();
    await idp?.close();
    rmSync(socketDir, { recursive: true, force: true });
  });

  /** One Check call with the attributes Envoy fills in. */
  const check = async (
    path: string,
    opts: {
      method?: string;
      headers?: Record<string, string>;
      http?: Partial<HttpRequestAttributes>;
      via?: string;
    } = {},
  ): Promise<CheckResponse> => {
    const client = await clientFor(opts.via ?? grpcAddress(gh));
    const request: CheckRequest = {
      attributes: {
        source: { address: { socket_address: { address: '203.0.113.9' } } },
        request: {
          http: {
            id: '5d3a1b7e-envoy',
            method: opts.method ?? 'GET',
            host: HOST,
            scheme: 'https',
            path,
            headers: { ':authority': HOST, ':path': path, ...opts.headers },
            ...opts.http,
          },
        },
      },
    };
    return new Promise((resolve, reject) =>
      client.Check(request, (err, res) => (err ? reject(err) : resolve(res))),
    );
  };
  /** The denied answer's HTTP status: the client decodes Envoy's `type.v3.StatusCode` enum by name. */
  const deniedStatus = (res: CheckResponse) => HTTP_STATUS[String(res.denied_response?.status.code)];
  const headerMap = (options: { header?: { key?: string; value?: string } }[] = []) =>
    new Map(options.map((o) => [o.header!.key!, o.header!.value!]));

  it('allows a bearer token: OK, identity headers set, headers without a value removed', async () => {
    const res = await check('/app/orders?id=7', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status.code, 0);
    assert.equal(res.denied_response, undefined);
    const set = headerMap(res.ok_response!.headers);
    assert.equal(set.get('x-auth-request-user'), 'machine');
    assert.match(set.get('x-gatehouse-assertion') ?? '', /^ey/);
    for (const o of res.ok_response!.headers) assert.equal(o.append_action, 'OVERWRITE_IF_EXISTS_OR_ADD');
    // Every identity header is either set or removed: a client's own copy never reaches upstream.
    const removed = res.ok_response!.headers_to_remove ?? [];
    for (const name of IDENTITY_HEADERS) assert.ok(set.has(name) !== removed.includes(name), name);
    const audit = await gh.auditLine((l) => l.path === '/app/orders' && l.decision === 'allow');
    assert.equal(audit.route, 'app');
    assert.equal(audit.sub, 'machine');
    assert.equal(audit.request_id, '5d3a1b7e-envoy');
    assert.equal(audit.client_ip, '203.0.113.9');
    assert.equal(audit.status, 200);
  });

  it('removes every identity header on a public route, so a spoofed one is dropped', async () => {
    const res = await check('/public/app.js', { headers: { 'x-auth-request-user': 'admin' } });
    assert.equal(res.status.code, 0);
    const removed = res.ok_response!.headers_to_remove ?? [];
    for (const name of [...IDENTITY_HEADERS, 'x-gatehouse-assertion'])
      assert.ok(removed.includes(name), name);
    assert.equal(res.ok_response!.headers?.length ?? 0, 0);
  });

  it('sends a browser navigation to sign in, returning to the original https URL', async () => {
    const res = await check('/app/orders?id=7&x=1', {
      headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' },
    });
    assert.notEqual(res.status.code, 0);
    assert.equal(deniedStatus(res), 302);
    const location = new URL(headerMap(res.denied_response!.headers).get('location')!);
    assert.equal(location.pathname, '/.gatehouse/start');
    assert.equal(location.searchParams.get('rd'), `https://${HOST}/app/orders?id=7&x=1`);
  });

  it('answers an API caller 401 (UNAUTHENTICATED) with WWW-Authenticate and a JSON body', async () => {
    const res = await check('/app/x', { headers: { accept: 'application/json' } });
    assert.equal(res.status.code, grpc.status.UNAUTHENTICATED);
    const denied = res.denied_response!;
    assert.equal(deniedStatus(res), 401);
    const headers = headerMap(denied.headers);
    assert.match(headers.get('www-authenticate')!, /^Bearer realm="gatehouse"/);
    assert.equal(headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(JSON.parse(denied.body).error, 'no_credentials');
  });

  it('denies with 403 (PERMISSION_DENIED) and insufficient_scope for a bearer caller', async () => {
    const res = await check('/admin/users', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status.code, grpc.status.PERMISSION_DENIED);
    assert.equal(deniedStatus(res), 403);
    assert.match(headerMap(res.denied_response!.headers).get('www-authenticate')!, /insufficient_scope/);
    const line = await gh.auditLine((l) => l.path === '/admin/users' && l.decision === 'deny');
    assert.equal(line.reason, 'no_rule_matched');
  });

  it('answers a spent rate limit 429 (RESOURCE_EXHAUSTED) with Retry-After and RateLimit headers', async () => {
    const first = await check('/limited/x', { headers: { accept: 'application/json' } });
    assert.equal(first.status.code, grpc.status.OK);
    const res = await check('/limited/x', { headers: { accept: 'application/json' } });
    assert.equal(res.status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(deniedStatus(res), 429);
    const headers = headerMap(res.denied_response!.headers);
    assert.ok(Number(headers.get('retry-after')) >= 59);
    assert.equal(headers.get('ratelimit-policy'), '"limited";q=1;w=60');
    assert.match(headers.get('ratelimit')!, /^"limited";r=0;t=60$/);
    assert.equal(JSON.parse(res.denied_response!.body).error, 'rate_limited');
  });

  it('reads header_map with raw values, and refuses a repeated Authorization in it', async () => {
    const raw = (key: string, value: string) => ({ key, raw_value: Buffer.from(value) });
    const ok = await check('/app/raw', {
      http: { headers: {}, header_map: { headers: [raw('authorization', `Bearer ${token}`)] } },
    });
    assert.equal(ok.status.code, 0);
    const twice = await check('/app/raw', {
      http: {
        headers: {},
        header_map: { headers: [raw('authorization', `Bearer ${token}`), raw('Authorization', 'Bearer x')] },
      },
    });
    assert.equal(deniedStatus(twice), 401);
    const line = await gh.auditLine((l) => l.path === '/app/raw' && l.decision !== 'allow');
    assert.equal(line.reason, 'token_malformed');
  });

  it('decides with the original method, and refuses an encoded separator in the path', async () => {
    const post = await check('/app/x', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(post.status.code, 0);
    await gh.auditLine((l) => l.method === 'POST' && l.path === '/app/x' && l.decision === 'allow');
    const trick = await check('/public/..%2fadmin/users');
    assert.equal(deniedStatus(trick), 400);
  });

  it('decides nothing for a peer outside trusted_proxies: 403 route_not_found', async () => {
    const res = await check('/public/x', {
      via: grpcAddress(untrusting),
      headers: { accept: 'application/json' },
    });
    assert.equal(deniedStatus(res), 403);
    assert.equal(JSON.parse(res.denied_response!.body).error, 'route_not_found');
  });

  it('serves on a unix socket with the configured file mode, its peers trusted', async () => {
    const address = grpcAddress(onSocket);
    assert.equal(statSync(address.slice('unix:'.length)).mode & 0o777, 0o660);
    const res = await check('/app/x', { via: address, headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status.code, 0);
  });
});

describe('config/envoy/envoy-grpc.yaml', () => {
  type Node = Record<string, unknown>;
  const find = (v: unknown, key: string): unknown[] =>
    v && typeof v === 'object'
      ? Object.entries(v as Node).flatMap(([k, x]) => (k === key ? [x] : find(x, key)))
      : [];
  const doc = parse(readFileSync('config/envoy/envoy-grpc.yaml', 'utf8')) as Node;

  it('points the ext_authz grpc_service at an HTTP/2 cluster on the documented port', () => {
    const [grpcService] = find(doc, 'grpc_service') as [{ envoy_grpc: { cluster_name: string } }];
    const clusters = find(doc, 'clusters')[0] as Node[];
    const cluster = clusters.find((c) => c.name === grpcService.envoy_grpc.cluster_name);
    assert.ok(cluster, 'the grpc_service names a defined cluster');
    assert.equal(find(cluster, 'http2_protocol_options').length, 1, 'h2c to Gatehouse');
    assert.deepEqual(find(cluster, 'port_value'), [9191]);
    assert.deepEqual(find(doc, 'failure_mode_allow'), [false]);
    assert.match(readFileSync('config/gatehouse.example.yaml', 'utf8'), /listen: 127\.0\.0\.1:9191/);
  });
});
