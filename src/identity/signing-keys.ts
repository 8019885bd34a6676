/**
 * The keys that sign `X-Gatehouse-Assertion`, and the public JWKS that upstreams verify it with
 * (`{prefix}/jwks.json`).
 *
 * Keys are inspected with node:crypto before jose imports them, so a key of the wrong type fails
 * at startup with a message naming the config key, not at the first request. Key material never
 * appears in an error or a log line: not even a JSON parse error is passed on (V8 quotes input).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517 JWK
 * @see https://www.rfc-editor.org/rfc/rfc7638 JWK Thumbprint
 */
import { createPrivateKey, createPublicKey, type JsonWebKeyInput, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Config } from '../config/schema.ts';

type AssertionConfig = Config['identity']['assertion'];
export type AssertionAlg = AssertionConfig['algorithm'];

export interface SigningKey {
  readonly kid: string;
  readonly alg: AssertionAlg;
  /** private, non-extractable */
  readonly key: CryptoKey;
}

export interface SigningKeys {
  readonly current: SigningKey;
  /** true when no key was configured and an ephemeral one was generated */
  readonly generated: boolean;
  /** public keys of the current and previous keys; never a private member */
  jwks(): { keys: JWK[] };
}

/** What each algorithm needs, and how a key is described in an error. */
function fits(key: KeyObject, alg: AssertionAlg): boolean {
  const details = key.asymmetricKeyDetails ?? {};
  switch (alg) {
    case 'ES256':
      return key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1';
    case 'EdDSA':
      return key.asymmetricKeyType === 'ed25519';
    case 'RS256':
      return key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048;
  }
}

const NEEDS: Record<AssertionAlg, string> = {
  ES256: 'an EC P-256 key',
  EdDSA: 'an Ed25519 key',
  RS256: 'an RSA key of at least 2048 bits',
};

function describe(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (d.namedCurve) return `an EC ${d.namedCurve} key`;
  if (d.modulusLength) return `a ${d.modulusLength}-bit ${key.asymmetricKeyType} key`;
  return `an ${key.asymmetricKeyType ?? 'unknown'} key`;
}

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

interface ParsedKey {
  /** private when the input was private, else public */
  key: KeyObject;
  kid?: string;
  alg?: string;
}

/** A JWK (JSON) or a PEM (PKCS#8, or SPKI for a previous key) into a KeyObject. */
function parseKey(text: string, field: string): ParsedKey {
  const input = text.trim();
  if (input.startsWith('{')) {
    let jwk: Record<string, unknown>;
    try {
      jwk = JSON.parse(input);
    } catch {
      throw invalid(`"${field}" is not valid JSON (expected a private JWK or a PKCS#8 PEM)`);
    }
    if (typeof jwk !== 'object' || jwk === null || typeof jwk.kty !== 'string') {
      throw invalid(`"${field}" is not a JWK: "kty" is missing`);
    }
    if (jwk.kty === 'oct') throw invalid(`"${field}" is a symmetric key; an asymmetric key is required`);
    if (jwk.use !== undefined && jwk.use !== 'sig')
      throw invalid(`"${field}" has "use": "${jwk.use}", not "sig"`);
    try {
      const spec: JsonWebKeyInput = { key: jwk as JsonWebKeyInput['key'], format: 'jwk' };
      const key = typeof jwk.d === 'string' ? createPrivateKey(spec) : createPublicKey(spec);
      return {
        key,
        ...(typeof jwk.kid === 'string' && jwk.kid !== '' ? { kid: jwk.kid } : {}),
        ...(typeof jwk.alg === 'string' ? { alg: jwk.alg } : {}),
      };
    } catch (err) {
      throw invalid(`"${field}" is not a usable JWK (${(err as { code?: string }).code ?? 'invalid key'})`);
    }
  }
  if (input.startsWith('-----BEGIN ')) {
    if (input.includes('ENCRYPTED'))
      throw invalid(`"${field}" is an encrypted PEM; give the key unencrypted`);
    try {
      const isPrivate = /^-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(input);
      return { key: isPrivate ? createPrivateKey(input) : createPublicKey(input) };
    } catch (err) {
      throw invalid(
        `"${field}" is not a usable PEM key (${(err as { code?: string }).code ?? 'invalid key'})`,
      );
    }
  }
  throw invalid(`"${field}" is neither a private JWK (JSON) nor a PKCS#8 PEM`);
}

/** createPublicKey refuses a public KeyObject, so pass one through. */
function publicOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/** The published form: only the public members RFC 7518 defines, plus kid/alg/use. */
function publicJwk(key: KeyObject, kid: string, alg: AssertionAlg): JWK {
  const pub = publicOf(key).export({ format: 'jwk' });
  const out: JWK = { kty: pub.kty! };
  for (const member of ['crv', 'x', 'y', 'n', 'e'] as const) {
    if (typeof pub[member] === 'string') out[member] = pub[member];
  }
  return { ...out, kid, alg, use: 'sig' };
}

function inferAlg(key: KeyObject, given: string | undefined, field: string): AssertionAlg {
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
    if ((given === undefined || given === alg) && fits(key, alg)) return alg;
  }
  throw invalid(
    `"${field}" is ${describe(key)}${given ? ` for "${given}"` : ''}; ES256, EdDSA or RS256 is required`,
  );
}

/**
 * Loads the assertion signing key and the previous keys still published for verification.
 * `kid` is the JWK's own `kid`, else its RFC 7638 thumbprint (stable across replicas and restarts).
 * Without a configured key an ephemeral one is generated, loudly: each replica then signs with
 * its own key and assertions stop verifying after a restart.
 */
export async function loadSigningKeys(
  cfg: AssertionConfig,
  log: { warn(obj: object, msg: string): void },
): Promise<SigningKeys> {
  const alg = cfg.algorithm;
  let current: SigningKey;
  let currentJwk: JWK;
  let generated = false;

  if (cfg.key === undefined) {
    const pair = await generateKeyPair(alg, { extractable: false });
    const pub = await exportJWK(pair.publicKey);
    const kid = await calculateJwkThumbprint(pub);
    current = { kid, alg, key: pair.privateKey };
    currentJwk = publicJwk(createPublicKey({ key: pub as JsonWebKeyInput['key'], format: 'jwk' }), kid, alg);
    generated = true;
    log.warn(
      { alg, kid },
      'identity.assertion.key is not set: generated an ephemeral signing key. Every replica signs with a ' +
        'different key and assertions stop verifying after a restart; set identity.assertion.key in production',
    );
  } else {
    const field = 'identity.assertion.key';
    const parsed = parseKey(cfg.key, field);
    if (parsed.key.type !== 'private') throw invalid(`"${field}" is a public key; a private key is required`);
    if (!fits(parsed.key, alg))
      throw invalid(`"${field}" is ${describe(parsed.key)}; ${alg} needs ${NEEDS[alg]}`);
    if (parsed.alg !== undefined && parsed.alg !== alg) {
      throw invalid(`"${field}" has "alg": "${parsed.alg}" but identity.assertion.algorithm is ${alg}`);
    }
    const kid = parsed.kid ?? (await calculateJwkThumbprint(publicOf(parsed.key).export({ format: 'jwk' })));
    const privateJwk = parsed.key.export({ format: 'jwk' }) as JWK;
    current = { kid, alg, key: (await importJWK(privateJwk, alg, { extractable: false })) as CryptoKey };
    currentJwk = publicJwk(parsed.key, kid, alg);
  }

  const published: JWK[] = [currentJwk];
  for (const [i, text] of cfg.previous_keys.entries()) {
    const field = `identity.assertion.previous_keys[${i}]`;
    const parsed = parseKey(text, field);
    const prevAlg = inferAlg(parsed.key, parsed.alg, field);
    const thumbprint = await calculateJwkThumbprint(publicOf(parsed.key).export({ format: 'jwk' }));
    const jwk = publicJwk(parsed.key, parsed.kid ?? thumbprint, prevAlg);
    const clash = published.find((k) => k.kid === jwk.kid);
    if (clash !== undefined) {
      // The same key listed twice is harmless; two keys under one kid would make verifiers guess.
      if ((await calculateJwkThumbprint(clash)) === thumbprint) continue;
      throw invalid(`"${field}" has kid "${jwk.kid}", which another assertion key already uses`);
    }
    published.push(jwk);
  }
  for (const jwk of published) Object.freeze(jwk);
  Object.freeze(current);

  return {
    current,
    generated,
    jwks: () => ({ keys: published.map((k) => ({ ...k })) }),
  };
}
