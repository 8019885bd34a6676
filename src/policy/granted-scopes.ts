/**
 * The scopes a token was granted, wherever the issuer put them: `scope` as a space-separated
 * string (RFC 8693 §4.2, RFC 9068 §2.2.3: Keycloak, Auth0, Cognito, the dev IdP), `scp` as a
 * string (Entra ID) or an array (Okta). Both claims are read and united: each is the issuer's
 * signed word.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2.3
 */
import { MAX_CLAIM_STRING, MAX_CLAIM_VALUES } from './claims.ts';

const EMPTY: ReadonlySet<string> = Object.freeze(new Set<string>());

/**
 * An identity's claims are frozen and shared by every request the identity serves (verified
 * tokens are cached), so each claims object is split once.
 */
const memo = new WeakMap<object, ReadonlySet<string>>();

export function grantedScopes(claims: Readonly<Record<string, unknown>>): ReadonlySet<string> {
  let scopes = memo.get(claims);
  if (scopes === undefined) {
    scopes = readScopes(claims);
    memo.set(claims, scopes);
  }
  return scopes;
}

function readScopes(claims: Readonly<Record<string, unknown>>): ReadonlySet<string> {
  const out = new Set<string>();
  for (const name of ['scope', 'scp']) {
    if (!Object.hasOwn(claims, name)) continue;
    const value: unknown = claims[name];
    // Bounded, as every claim list: a hostile token cannot make this scan long.
    const items = typeof value === 'string' ? value.split(' ', MAX_CLAIM_VALUES) : value;
    if (!Array.isArray(items)) continue;
    const n = Math.min(items.length, MAX_CLAIM_VALUES);
    for (let i = 0; i < n; i++) {
      const item: unknown = items[i];
      if (typeof item === 'string' && item.length > 0 && item.length <= MAX_CLAIM_STRING) out.add(item);
    }
  }
  return out.size === 0 ? EMPTY : out;
}
