/**
 * A DPoP client for tests: a key pair, proofs made the way RFC 9449 §4.2 says (or broken on
 * purpose through `over`), and DPoP-bound client-credentials tokens from the dev IdP.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { request } from 'undici';
import type { DevIdp } from '../../src/demo/dev-idp.ts';

export interface DpopKey {
  readonly alg: string;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
  readonly privateKey: CryptoKey;
  /** RFC 7638 thumbprint, as jose computes it */
  readonly jkt: string;
}

export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    alg,
    publicJwk,
    privateJwk: await exportJWK(privateKey),
    privateKey,
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
  };
}

export interface ProofOptions {
  readonly accessToken?: string;
  readonly nonce?: string;
  /** claims replacing or adding to the correct ones */
  readonly claims?: Record<string, unknown>;
  /** header members replacing the correct ones */
  readonly header?: Record<string, unknown>;
  /** sign with this key instead (an HS256 secret, another private key) */
  readonly signWith?: CryptoKey | Uint8Array;
}

export async function proof(
  key: DpopKey,
  htm: string,
  htu: string,
  opts: ProofOptions = {},
): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: randomUUID(),
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ...(opts.accessToken !== undefined
      ? { ath: createHash('sha256').update(opts.accessToken).digest('base64url') }
      : {}),
    ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}),
    ...opts.claims,
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...opts.header } as never)
    .sign(opts.signWith ?? key.privateKey);
}

/** A client_credentials token from the dev IdP; DPoP-bound to `key` when given. */
export async function clientCredentialsToken(idp: DevIdp, key?: DpopKey): Promise<string> {
  const basic = Buffer.from(`${idp.machineClient.id}:${idp.machineClient.secret}`).toString('base64');
  const url = `${idp.issuer}/token`;
  const res = await request(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      ...(key ? { dpop: await proof(key, 'POST', url) } : {}),
    },
    body: 'grant_type=client_credentials&resource=api%3A%2F%2Fdemo&scope=api%3Aread',
  });
  const body = (await res.body.json()) as { access_token?: string; token_type?: string };
  if (res.statusCode !== 200 || typeof body.access_token !== 'string')
    throw new Error(`token endpoint answered ${res.statusCode}: ${JSON.stringify(body)}`);
  if (key && body.token_type !== 'DPoP') throw new Error(`token_type ${body.token_type}, not DPoP`);
  return body.access_token;
}
