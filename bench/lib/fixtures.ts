/**
 * What every bench needs and nothing else: signing keys for RS256/ES256/EdDSA, a loopback
 * server publishing their JWKS (and a minimal OIDC discovery document, so a config with
 * sessions validates and its OIDC client goes ready without any IdP), locally minted access
 * tokens, a Gatehouse config, and a sealed session cookie made by Gatehouse's own codec.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { Registry } from 'prom-client';
import { type LoadedConfig, parseConfig } from '../../src/config/load.ts';
import { createAuditLog } from '../../src/observe/audit.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import type { Runtime } from '../../src/pipeline/runtime.ts';
import { createUpstreamProxy } from '../../src/proxy/upstream-proxy.ts';
import { buildRuntime } from '../../src/server/build-runtime.ts';
import { createSessionCodec } from '../../src/session/cookie-codec.ts';
import type { SessionData } from '../../src/session/session-data.ts';
import { createMemoryStore } from '../../src/store/store.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';

export const BEARER_ISSUER = 'https://bench.example';
export const AUDIENCE = 'api://bench';
export const SESSION_SECRET = 'bench-cookie-secret-0123456789-abcdefghij';
export const ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type Alg = (typeof ALGS)[number];

export interface SigningKey {
  alg: Alg;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface KeyServer {
  /** http://127.0.0.1:PORT – also the OIDC issuer of the bench config */
  readonly origin: string;
  readonly jwksUri: string;
  readonly keys: Record<Alg, SigningKey>;
  close(): Promise<void>;
}

export async function startKeyServer(): Promise<KeyServer> {
  const keys = {} as Record<Alg, SigningKey>;
  for (const alg of ALGS) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `bench-${alg.toLowerCase()}`;
    keys[alg] = {
      alg,
      kid,
      privateKey,
      publicJwk: { ...(await exportJWK(publicKey)), alg, kid, use: 'sig' },
    };
  }
  let origin = '';
  const server: Server = createServer((req, res) => {
    const json = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/jwks') json({ keys: ALGS.map((a) => keys[a].publicJwk) });
    else if (req.url === '/.well-known/openid-configuration')
      json({
        issuer: origin,
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/token`,
        jwks_uri: `${origin}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
      });
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    jwksUri: `${origin}/jwks`,
    keys,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An RFC 9068-shaped access token the bench config accepts (sub `bench-user`, group Engineering). */
export async function mintToken(
  key: SigningKey,
  opts: { ttlS?: number; jti?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    sub: 'bench-user',
    client_id: 'bench-client',
    scope: 'api:read',
    email: 'bench@example.com',
    groups: ['Everyone', 'Engineering', 'Berlin'],
    jti: opts.jti ?? randomUUID(),
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(BEARER_ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.ttlS ?? 3600))
    .sign(key.privateKey);
}

export interface ConfigOptions {
  listen: string;
  admin: string;
  upstream: string;
  keyServer: Pick<KeyServer, 'origin' | 'jwksUri'>;
  /** `cache.tokens` (0: every bearer request is a cold verify) */
  tokenCache?: number;
  workers?: number | 'auto';
  audit?: string;
  logLevel?: string;
}

/**
 * The bench config: a public route, an authenticated one (`/app`, session or bearer, role
 * `developer` from group Engineering), loopback trusted (for nginx auth_request).
 */
export function benchConfigYaml(o: ConfigOptions): string {
  return `server:
  listen: ${o.listen}
  public_url: http://${o.listen.replace(/:0$/, '')}
  trusted_proxies: [127.0.0.1/32]
  workers: ${o.workers ?? 1}
admin:
  listen: ${o.admin}
log:
  level: ${o.logLevel ?? 'warn'}
oidc:
  issuer: ${o.keyServer.origin}
  client_id: bench
  client_secret: bench-client-secret
session:
  secrets: [${SESSION_SECRET}]
bearer:
  - issuer: ${BEARER_ISSUER}
    audiences: [${AUDIENCE}]
    algorithms: [RS256, ES256, EdDSA]
    jwks_uri: ${o.keyServer.jwksUri}
roles:
  map: { Engineering: developer }
cache:
  tokens: ${o.tokenCache ?? 10000}
audit:
  output: ${o.audit ?? '/dev/null'}
routes:
  - name: public
    match: { path: /public }
    upstream: ${o.upstream}
    policy: public
  - name: app
    match: { path: /app }
    upstream: ${o.upstream}
    auth: [session, bearer]
    policy:
      allow:
        - { roles: [developer] }
`;
}

/** The session a login would have produced for the bench user (no tokens inside: nothing to refresh). */
export function benchSession(issuer: string): SessionData {
  const now = Math.floor(Date.now() / 1000);
  return {
    v: 1,
    id: randomUUID(),
    iss: issuer,
    claims: {
      sub: 'bench-user',
      email: 'bench@example.com',
      name: 'Bench User',
      preferred_username: 'bench',
      groups: ['Everyone', 'Engineering', 'Berlin'],
    },
    createdAt: now,
    lastSeenAt: now,
  };
}

/** A `Cookie` header value carrying a freshly sealed bench session, made by Gatehouse's codec. */
export async function sessionCookieHeader(issuer: string): Promise<string> {
  const loaded = parseConfig(
    benchConfigYaml({
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      upstream: 'http://127.0.0.1:1',
      keyServer: { origin: issuer, jwksUri: `${issuer}/jwks` },
    }),
    'bench.yaml',
    { env: {}, readFile: () => '' },
  );
  const codec = createSessionCodec({
    session: loaded.config.session!,
    secure: false,
    cacheSize: 0,
    log: silentLog,
  });
  const setCookies = await codec.write(benchSession(issuer));
  return setCookies.map((c) => c.split(';', 1)[0]).join('; ');
}

/**
 * An `IncomingMessage` as far as the pipeline reads one, built the way node builds it, so an
 * in-process bench measures Gatehouse rather than its fake: `rawHeaders` as received (names in
 * the client's case), a fresh lower-case `headers` object per request (the pipeline mutates it),
 * `headersDistinct` computed on first use and then cached (node's getter does the same), and a
 * socket with `remoteAddress`. Names are unique (node would merge repeated lines into `headers`).
 */
export class FakeIncomingMessage {
  readonly url: string;
  readonly method: string;
  readonly rawHeaders: readonly string[];
  readonly headers: Record<string, string>;
  readonly socket: { readonly remoteAddress: string; readonly encrypted: boolean };
  #distinct: Record<string, string[]> | undefined;

  constructor(
    url: string,
    rawHeaders: readonly string[],
    headers: Record<string, string>,
    socket: { readonly remoteAddress: string; readonly encrypted: boolean },
    method = 'GET',
  ) {
    this.url = url;
    this.method = method;
    this.rawHeaders = rawHeaders;
    this.headers = headers;
    this.socket = socket;
  }

  get headersDistinct(): Record<string, string[]> {
    if (this.#distinct === undefined) {
      const out: Record<string, string[]> = {};
      for (let i = 0; i < this.rawHeaders.length; i += 2) {
        const name = this.rawHeaders[i]!.toLowerCase();
        const values = out[name] ?? [];
        values.push(this.rawHeaders[i + 1]!);
        out[name] = values;
      }
      this.#distinct = out;
    }
    return this.#distinct;
  }
}

/**
 * A maker of fake requests for one URL and header list (`[Name, value]` in wire order and
 * case). The raw list is shared – nothing mutates it, as nothing mutates node's – while each
 * request gets its own `headers` object, as each node request does.
 */
export function fakeRequestMaker(
  url: string,
  lines: readonly (readonly [string, string])[],
  remoteAddress = '203.0.113.9',
): () => IncomingMessage {
  const rawHeaders = Object.freeze(lines.flat());
  const template: Record<string, string> = {};
  for (const [name, value] of lines) {
    const key = name.toLowerCase();
    if (key in template) throw new Error(`fakeRequestMaker: "${name}" is repeated`);
    template[key] = value;
  }
  const socket = Object.freeze({ remoteAddress, encrypted: false });
  return () =>
    new FakeIncomingMessage(url, rawHeaders, { ...template }, socket) as unknown as IncomingMessage;
}

/**
 * The runtime of `loaded` for an in-process bench of `check`: silent log, a fresh registry, an
 * audit log to /dev/null, a memory store, and the bearer key sets loaded. `close` ends the
 * runtime and its outbound dispatcher.
 */
export async function benchRuntime(loaded: LoadedConfig): Promise<{ rt: Runtime; close(): Promise<void> }> {
  const dispatcher = createOutboundDispatcher();
  const rt = await buildRuntime(loaded, {
    log: silentLog,
    metrics: createMetrics(new Registry()),
    dispatcher,
    proxy: createUpstreamProxy(),
    audit: createAuditLog('/dev/null'),
    store: createMemoryStore(),
  });
  await rt.bearer!.start();
  return {
    rt,
    close: async () => {
      rt.close();
      await dispatcher.close();
    },
  };
}
