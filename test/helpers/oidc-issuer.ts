/**
 * A token issuer that publishes itself the way an OpenID Provider does: a discovery document at
 * `/.well-known/openid-configuration` naming its own origin as `issuer` and a `jwks_uri` at the
 * path the real issuer uses (Kubernetes `/openid/v1/jwks`, GitHub Actions `/.well-known/jwks`),
 * on 127.0.0.1. Tokens are signed locally with its RS256 key (with `kid`), so tests can mint
 * exactly the claim layout of a real workload token. Gatehouse finds the keys by discovery,
 * as it does for the real issuer.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export interface OidcIssuer {
  /** http://127.0.0.1:PORT, also the `iss` of its tokens */
  readonly issuer: string;
  /** requests served, by path */
  readonly hits: Map<string, number>;
  /** signs `payload` as it is (RS256, this issuer's kid, plus `header`) */
  sign(payload: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export interface OidcIssuerOptions {
  /** where the key set is served, e.g. `/openid/v1/jwks` */
  jwksPath: string;
  /** extra discovery members (GitHub lists `claims_supported`, …) */
  metadata?: Record<string, unknown>;
  kid?: string;
}

export async function startOidcIssuer(opts: OidcIssuerOptions): Promise<OidcIssuer> {
  const kid = opts.kid ?? 'test-rs256';
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const hits = new Map<string, number>();
  let origin = '';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    let body: unknown;
    if (path === '/.well-known/openid-configuration') {
      body = {
        issuer: origin,
        jwks_uri: `${origin}${opts.jwksPath}`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        ...opts.metadata,
      };
    } else if (path === opts.jwksPath) {
      body = { keys: [jwk] };
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer: origin,
    hits,
    sign: (payload, header = {}) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, ...header }).sign(privateKey),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
