/**
 * iron seals with key rotation. iron-session seals with the password whose map key is the
 * highest number and unseals with the one named inside the seal (`Fe26.2*<id>*…`). The ids
 * must not depend on a secret's position in the config list – prepending a new secret would
 * renumber the old one and log everybody out – so each secret's id is derived from the secret
 * itself, sealing uses a one-entry map holding `secrets[0]`, and unsealing gets all of them.
 *
 * Large payloads are deflated before sealing: a session with 150 group names (in the claims,
 * the ID token and the access token alike) shrinks several-fold, which is the difference
 * between two cookies and eight. The MAC is checked before anything is inflated, so a forged
 * cookie can never reach the decompressor, and inflation is bounded anyway.
 * @see https://github.com/vvo/iron-session#sealdatadata-unknown--password-ttl--promisestring
 */
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { sealData, unsealData } from 'iron-session';

/** Payloads whose JSON is at least this long are deflated. */
const COMPRESS_FROM = 512;
/** `Fe26.2*id*salt*iv*data*expiry*hmacSalt*hmac~2`, base64url and digits only. */
const SEAL_SHAPE = /^Fe26\.2\*\d+\*[0-9a-f]+\*[\w-]+\*[\w-]+\*\d*\*[0-9a-f]+\*[\w-]+~2$/;
/** Largest inflated payload accepted. */
const MAX_INFLATED = 1 << 20;

export interface Unsealed {
  data: unknown;
  /** false when an older secret sealed it: the caller should write it again with the first */
  current: boolean;
}

export interface Sealer {
  /** Seal `data` for `ttlSeconds` (iron refuses the seal after that, whatever the cookie says). */
  seal(data: unknown, ttlSeconds: number): Promise<string>;
  /** The data, or undefined for anything tampered, truncated, expired or sealed with an unknown secret. */
  unseal(sealed: string): Promise<Unsealed | undefined>;
}

/** A stable, numeric iron password id for a secret (iron-session picks the sealing id with `Math.max`). */
export function secretId(secret: string): string {
  return String(Number.parseInt(createHash('sha256').update(secret).digest('hex').slice(0, 12), 16));
}

/** @throws TypeError `ERR_INVALID_ARG_VALUE` when no secret is given or one is shorter than 32 characters */
export function createSealer(secrets: readonly string[]): Sealer {
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length < 32)) {
    throw Object.assign(new TypeError('"secrets" must list at least one secret of 32 or more characters'), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const currentId = secretId(secrets[0]!);
  const sealPassword = { [currentId]: secrets[0]! };
  // A null prototype: iron looks ids up with `in`, and a seal naming `constructor` must find nothing.
  const unsealPasswords: Record<string, string> = Object.create(null);
  for (const secret of secrets) unsealPasswords[secretId(secret)] ??= secret;

  return {
    async seal(data, ttlSeconds) {
      const json = JSON.stringify(data);
      const envelope =
        json.length >= COMPRESS_FROM ? { z: deflateRawSync(json).toString('base64url') } : { j: data };
      return sealData(envelope, { password: sealPassword, ttl: Math.max(1, Math.ceil(ttlSeconds)) });
    },
    async unseal(sealed) {
      // iron-session tolerates junk after the `~2` version; Gatehouse accepts only what it writes.
      if (!SEAL_SHAPE.test(sealed)) return undefined;
      let envelope: unknown;
      try {
        envelope = await unsealData<unknown>(sealed, { password: unsealPasswords });
      } catch {
        // iron throws for malformed input it does not recognise (bad base64, bad JSON, …)
        return undefined;
      }
      const data = openEnvelope(envelope);
      if (data === undefined) return undefined;
      return { data, current: sealed.split('*', 2)[1] === currentId };
    },
  };
}

function openEnvelope(envelope: unknown): unknown {
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const e = envelope as { z?: unknown; j?: unknown };
  if (typeof e.z === 'string') {
    try {
      return JSON.parse(
        inflateRawSync(Buffer.from(e.z, 'base64url'), { maxOutputLength: MAX_INFLATED }).toString(),
      );
    } catch {
      return undefined;
    }
  }
  return e.j;
}
