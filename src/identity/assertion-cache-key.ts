/**
 * Cache keys of reusable assertions: a digest of every input that shapes the token, so two
 * identities can never share one. Looked up on every proxied request, so a frozen identity's
 * key is computed once and then handed back as the same string object.
 */
import { createHash } from 'node:crypto';
import type { Identity } from './identity.ts';

export class AssertionCacheKeys {
  readonly #issuer: string;
  readonly #kid: string;
  // Identities are frozen once built, so the digest of one can be computed once per object.
  readonly #digests = new WeakMap<Identity, string>();
  // …and so can its cache key for the audience it was last signed for: the same string object on
  // every warm request, whose hash the cache lookup then need not compute again.
  readonly #keys = new WeakMap<Identity, { readonly audience: string; readonly key: string }>();

  /** `issuer` and `kid` are the signer's own inputs to every token. */
  constructor(issuer: string, kid: string) {
    this.#issuer = issuer;
    this.#kid = kid;
  }

  keyOf(identity: Identity, audience: string): string {
    const memo = this.#keys.get(identity);
    if (memo !== undefined && memo.audience === audience) return memo.key;
    // The digest is fixed-length base64url (no space), so `digest + ' ' + audience` is unambiguous.
    const key = `${this.#digestOf(identity)} ${audience}`;
    if (this.#digests.has(identity)) this.#keys.set(identity, { audience, key }); // frozen identities only
    return key;
  }

  /** Digest of every identity field that goes into the token, plus the signer's own inputs. */
  #digestOf(identity: Identity): string {
    let digest = this.#digests.get(identity);
    if (digest !== undefined) return digest;
    const canonical = JSON.stringify([
      this.#issuer,
      this.#kid,
      identity.iss,
      identity.idp ?? null,
      identity.sub,
      identity.authType,
      identity.email ?? null,
      identity.preferredUsername ?? null,
      identity.groups,
      identity.roles,
      identity.expiresAt,
    ]);
    digest = createHash('sha256').update(canonical).digest('base64url');
    if (Object.isFrozen(identity) && Object.isFrozen(identity.groups) && Object.isFrozen(identity.roles)) {
      this.#digests.set(identity, digest);
    }
    return digest;
  }
}
