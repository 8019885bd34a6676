/**
 * A DPoP proof, checked as RFC 9449 §4.3 lists it, cheapest checks first: a compact JWS of at
 * most 8 KiB, `typ: dpop+jwt`, an `alg` from the issuer's asymmetric allow-list, a `jwk` header
 * that is a public key, the signature by that key, then the claims: `htm` and `htu` name this
 * request, `iat` is recent, `ath` is the hash of the access token presented, `jti` is there
 * (its uniqueness is the caller's replay cache), and the server nonce when one is demanded.
 *
 * The key's RFC 7638 thumbprint is computed here with one SHA-256 (what jose's
 * `calculateJwkThumbprint` answers, synchronously); imported keys are kept in a small LRU by
 * thumbprint and alg (importing a P-256 JWK costs about 80 µs, about as much as the verify), so
 * an agent's repeated proofs cost one signature check. That check is
 * node's synchronous `crypto.verify` on a cached `KeyObject`: jose's `compactVerify` goes through
 * WebCrypto, measured about 3x slower per proof (bench/micro/dpop.bench.ts).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3.2
 */
import { constants, createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { GatehouseError, type ReasonCode } from '../errors.ts';
import { LruCache } from '../util/lru.ts';
import { normalizeHtu } from './dpop-htu.ts';

export const MAX_PROOF_LENGTH = 8192;
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** private (or symmetric) members a public JWK must not have (RFC 7517 §9.2, RFC 7518 §6) */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
/** the members RFC 7638 hashes, by `kty`, in lexicographic order */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

export interface ProofRequest {
  /** the request method, upper-case */
  readonly method: string;
  /** the request URL in `normalizeHtu` form */
  readonly url: string;
  /** the access token the proof must be bound to (`ath`) */
  readonly accessToken: string;
  readonly algorithms: ReadonlySet<string>;
  /** seconds a proof's `iat` may lie in the past (plus `skew`) */
  readonly maxAge: number;
  /** seconds of clock difference tolerated either way */
  readonly skew: number;
  /** epoch ms */
  readonly now: number;
  /** present when the issuer demands server nonces: is this nonce current? */
  readonly nonceValid?: (nonce: unknown) => boolean;
}

export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof key, base64url */
  readonly jkt: string;
  readonly jti: string;
  /** epoch seconds */
  readonly iat: number;
}

function refuse(code: ReasonCode, message: string, cause?: unknown): never {
  throw new GatehouseError(code, message, cause === undefined ? undefined : { cause });
}

function decodeJson(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
    );
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 7638 thumbprint of a public JWK, or undefined when a required member is missing. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const names = typeof jwk.kty === 'string' ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (!names) return undefined;
  const canonical: Record<string, string> = {};
  for (const name of names) {
    const value = jwk[name];
    if (typeof value !== 'string' || value === '') return undefined;
    canonical[name] = value;
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** base64url(SHA-256(ASCII(token))): the `ath` a proof for this token carries. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** A proof key ready for `crypto.verify`: the digest and the key with its JWS signature form. */
interface ProofKey {
  readonly hash: string | null;
  readonly options: VerifyKeyObjectInput | VerifyPublicKeyInput;
}
type VerifyPublicKeyInput = {
  key: KeyObject;
  dsaEncoding?: 'ieee-p1363';
  padding?: number;
  saltLength?: number;
};
type VerifyKeyObjectInput = KeyObject;

/**
 * What each allowed `alg` needs of the key and of `crypto.verify` (RFC 7518 §3, RFC 8037):
 * the key type (and curve) the alg is defined for – an RSA key may not verify an ES256 proof –
 * the digest, and the signature form (JWS ECDSA is r||s, PSS salts are the digest's length).
 */
const ALGS: Readonly<
  Record<string, { type: string; curve?: string; hash: string | null; pss?: number; ec?: true }>
> = {
  ES256: { type: 'ec', curve: 'prime256v1', hash: 'sha256', ec: true },
  ES384: { type: 'ec', curve: 'secp384r1', hash: 'sha384', ec: true },
  ES512: { type: 'ec', curve: 'secp521r1', hash: 'sha512', ec: true },
  RS256: { type: 'rsa', hash: 'sha256' },
  RS384: { type: 'rsa', hash: 'sha384' },
  RS512: { type: 'rsa', hash: 'sha512' },
  PS256: { type: 'rsa', hash: 'sha256', pss: 32 },
  PS384: { type: 'rsa', hash: 'sha384', pss: 48 },
  PS512: { type: 'rsa', hash: 'sha512', pss: 64 },
  EdDSA: { type: 'ed25519', hash: null },
  Ed25519: { type: 'ed25519', hash: null },
};

/** @throws GatehouseError `dpop_proof_invalid` for a key that is not a public key of the alg's type */
function importProofKey(jwk: Record<string, unknown>, alg: string): ProofKey {
  const spec = ALGS[alg];
  if (!spec) refuse('dpop_proof_invalid', 'the DPoP proof "alg" is not supported');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as never, format: 'jwk' });
  } catch (err) {
    refuse('dpop_proof_invalid', 'the DPoP proof "jwk" is not a usable public key', err);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.type !== 'public' || key.asymmetricKeyType !== spec.type || (spec.curve && curve !== spec.curve))
    refuse('dpop_proof_invalid', 'the DPoP proof "jwk" does not fit its "alg"');
  if (spec.type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
    refuse('dpop_proof_invalid', 'the DPoP proof RSA key is shorter than 2048 bits');
  if (spec.ec) return { hash: spec.hash, options: { key, dsaEncoding: 'ieee-p1363' } };
  if (spec.pss)
    return {
      hash: spec.hash,
      options: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.pss },
    };
  return { hash: spec.hash, options: key };
}

export class DpopProofVerifier {
  /** imported public keys by `alg:thumbprint` */
  readonly #keys: LruCache<ProofKey>;

  constructor(keyCacheSize = 1024) {
    this.#keys = new LruCache(keyCacheSize);
  }

  /** @throws GatehouseError `dpop_proof_invalid`, `dpop_nonce_required` */
  verify(proof: string, req: ProofRequest): VerifiedProof {
    if (proof.length > MAX_PROOF_LENGTH || !JWS.test(proof))
      refuse('dpop_proof_invalid', 'the DPoP proof is not a compact JWS');
    const header = decodeJson(Buffer.from(proof.slice(0, proof.indexOf('.')), 'base64url'));
    if (!header) refuse('dpop_proof_invalid', 'the DPoP proof header is not a JSON object');
    if (header.typ !== 'dpop+jwt') refuse('dpop_proof_invalid', 'the DPoP proof "typ" is not dpop+jwt');
    const alg = header.alg;
    if (typeof alg !== 'string' || !req.algorithms.has(alg))
      refuse('dpop_proof_invalid', 'the DPoP proof "alg" is not allowed');
    if (header.crit !== undefined) refuse('dpop_proof_invalid', 'the DPoP proof has a "crit" header');
    const jwk = header.jwk;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
      refuse('dpop_proof_invalid', 'the DPoP proof has no "jwk" header');
    const key = jwk as Record<string, unknown>;
    for (const name of PRIVATE_MEMBERS)
      if (key[name] !== undefined) refuse('dpop_proof_invalid', 'the DPoP proof "jwk" is not a public key');
    const jkt = jwkThumbprint(key);
    if (jkt === undefined) refuse('dpop_proof_invalid', 'the DPoP proof "jwk" is not a usable public key');

    const payload = this.#verifySignature(proof, alg, jkt, key, req.now);
    checkClaims(payload, req);
    return { jkt, jti: payload.jti as string, iat: payload.iat as number };
  }

  #verifySignature(
    proof: string,
    alg: string,
    jkt: string,
    jwk: Record<string, unknown>,
    now: number,
  ): Record<string, unknown> {
    const cacheKey = `${alg}:${jkt}`;
    let key = this.#keys.get(cacheKey, now);
    if (key === undefined) {
      key = importProofKey(jwk, alg);
      this.#keys.set(cacheKey, key, now + 3_600_000);
    }
    const second = proof.lastIndexOf('.');
    const signature = Buffer.from(proof.slice(second + 1), 'base64url');
    let ok: boolean;
    try {
      ok = verify(key.hash, Buffer.from(proof.slice(0, second)), key.options, signature);
    } catch (err) {
      refuse('dpop_proof_invalid', 'the DPoP proof signature does not verify with its "jwk"', err);
    }
    if (!ok) refuse('dpop_proof_invalid', 'the DPoP proof signature does not verify with its "jwk"');
    const claims = decodeJson(Buffer.from(proof.slice(proof.indexOf('.') + 1, second), 'base64url'));
    if (!claims) refuse('dpop_proof_invalid', 'the DPoP proof payload is not a JSON object');
    return claims;
  }

  clear(): void {
    this.#keys.clear();
  }
}

function checkClaims(p: Record<string, unknown>, req: ProofRequest): void {
  if (typeof p.jti !== 'string' || p.jti.length === 0 || p.jti.length > 256)
    refuse('dpop_proof_invalid', 'the DPoP proof "jti" is missing or too long');
  if (p.htm !== req.method) refuse('dpop_proof_invalid', 'the DPoP proof "htm" is not the request method');
  if (normalizeHtu(p.htu) !== req.url)
    refuse('dpop_proof_invalid', 'the DPoP proof "htu" is not the request URL');
  const iat = p.iat;
  const nowS = req.now / 1000;
  if (typeof iat !== 'number' || !Number.isFinite(iat))
    refuse('dpop_proof_invalid', 'the DPoP proof "iat" is missing');
  if (iat > nowS + req.skew) refuse('dpop_proof_invalid', 'the DPoP proof "iat" is in the future');
  if (iat < nowS - req.maxAge - req.skew) refuse('dpop_proof_invalid', 'the DPoP proof is too old ("iat")');
  if (p.ath !== accessTokenHash(req.accessToken))
    refuse('dpop_proof_invalid', 'the DPoP proof "ath" is not the hash of the access token');
  // Last: a proof that is wrong in any other way gets that error, not an invitation to retry.
  if (req.nonceValid && !req.nonceValid(p.nonce))
    refuse('dpop_nonce_required', 'the DPoP proof lacks a current server nonce');
}
