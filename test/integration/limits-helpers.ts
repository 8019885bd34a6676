/**
 * Shared fixtures of the rate-limit integration tests: a local token issuer (its JWKS served by
 * `startJwksServer`) that signs tokens for any `sub` and `client_id`, and a metric reader.
 */
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { request } from 'undici';
import { type JwksServer, startJwksServer } from '../helpers/jwks-server.ts';
import { claims, signJwt } from './bearer-helpers.ts';

export interface TokenIssuer {
  readonly jwks: JwksServer;
  token(sub: string, clientId?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTokenIssuer(): Promise<TokenIssuer> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const priv: JWK = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'k1' };
  const { d: _d, ...pub } = priv;
  const jwks = await startJwksServer([pub]);
  return {
    jwks,
    token: (sub, clientId = 'cli-a') => signJwt(priv, claims(jwks.issuer, { sub, client_id: clientId })),
    close: () => jwks.close(),
  };
}

/** A bearer issuer entry for {@link startTokenIssuer}'s tokens. */
export function issuerEntry(issuer: TokenIssuer) {
  return { issuer: issuer.jwks.issuer, audiences: ['api://demo'], jwks_uri: issuer.jwks.url };
}

/** The value of the first exposition line matching `pattern` (0 when absent). */
export async function metricValue(adminUrl: string, pattern: RegExp): Promise<number> {
  const res = await request(`${adminUrl}/metrics`);
  const text = await res.body.text();
  const line = text.split('\n').find((l) => pattern.test(l));
  return line ? Number(line.split(' ').pop()) : 0;
}
