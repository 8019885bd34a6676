/**
 * Shared fixtures of the bearer integration tests: machine tokens from the dev IdP, tokens
 * crafted with the IdP's own private keys (for what a real IdP will not issue), a recording
 * logger, and a tiny controllable JSON server for IdP misbehaviour.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import { request } from 'undici';
import { type BearerIssuerConfig, bearerIssuerSchema } from '../../src/config/schema.ts';
import type { DevIdp } from '../../src/demo/dev-idp.ts';
import type { Log } from '../../src/observe/logger.ts';

/** A client_credentials JWT access token (RFC 9068) for `api://demo`. */
export async function machineToken(idp: DevIdp): Promise<string> {
  const basic = Buffer.from(`${idp.machineClient.id}:${idp.machineClient.secret}`).toString('base64');
  const res = await request(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&resource=api%3A%2F%2Fdemo&scope=api%3Aread',
  });
  const body = (await res.body.json()) as { access_token?: string };
  if (res.statusCode !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`token endpoint answered ${res.statusCode}`);
  }
  return body.access_token;
}

export function issuerConfig(input: Record<string, unknown>): BearerIssuerConfig {
  return bearerIssuerSchema.parse({ audiences: ['api://demo'], ...input });
}

/** Sign `payload` with a private JWK (its own alg and kid unless the header overrides them). */
export async function signJwt(
  jwk: JWK,
  payload: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  const alg = (header.alg as string | undefined) ?? jwk.alg!;
  const key = await importJWK(jwk, alg);
  return new SignJWT(payload)
    .setProtectedHeader({ alg, kid: jwk.kid, typ: 'at+jwt', ...header } as never)
    .sign(key);
}

/**
 * Sign by hand (ES256 or RS256) for headers jose refuses to produce, such as an unknown `crit`.
 */
export function signRaw(jwk: JWK, header: Record<string, unknown>, payload: unknown): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: jwk.alg, kid: jwk.kid, ...header })}.${enc(payload)}`;
  const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
  const sig =
    jwk.alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${sig.toString('base64url')}`;
}

/** Standard claims for `issuer`, valid for an hour. */
export function claims(issuer: string, extra: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer,
    aud: 'api://demo',
    sub: 'machine',
    client_id: 'machine',
    iat: now,
    exp: now + 3600,
    ...extra,
  };
}

export interface RecordingLog extends Log {
  readonly entries: { level: string; obj: Record<string, unknown>; msg: string }[];
}

export function recordingLog(): RecordingLog {
  const entries: RecordingLog['entries'] = [];
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  const log: RecordingLog = {
    entries,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => log,
  };
  return log;
}

export interface TestServer {
  readonly url: string;
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1:0 answering with `handler`; counts requests by path. */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<TestServer> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Resolve when `predicate` holds, polling every 20 ms; reject after `ms`. */
export async function waitFor(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The reason code a verify rejects with. */
export async function rejectCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? `uncoded: ${(err as Error).message}`;
  }
  return 'resolved';
}
