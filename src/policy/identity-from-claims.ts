/**
 * The one place an {@link Identity} is built, for sessions and bearer tokens alike, so a
 * policy cannot tell (or be fooled by) which credential produced it.
 *
 * Claims are attacker-influenced: only strings of sane length without control characters
 * are taken (they end up in headers), and an email is trusted only when it is a single
 * well-formed address the IdP has not marked unverified.
 */
import type { AuthType } from '../config/schema.ts';
import { GatehouseError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import type { RoleMapper } from './roles.ts';

/** Longest sub / name / username kept; longer values are dropped, never truncated. */
const MAX_TEXT = 256;
/** RFC 5321 path limit. */
const MAX_EMAIL = 254;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/**
 * Deliberately narrower than RFC 5322: ASCII only, no quoted local parts, no comments, no IP
 * literals, so the address is safe in a header and `email_domains` compares like for like.
 */
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export interface IdentityOptions {
  authType: AuthType;
  mapper: RoleMapper;
  /** epoch seconds */
  expiresAt: number;
  /** the verified issuer; defaults to the `iss` claim */
  iss?: string;
  /** the provider name the credential came from */
  idp?: string;
  /** the token is sender-constrained (its proof is checked per request by the pipeline) */
  binding?: 'dpop' | 'mtls';
}

/**
 * Build a frozen identity from verified claims.
 * @throws GatehouseError `missing_claim` when `sub` is not a usable string
 */
export function identityFromClaims(claims: Record<string, unknown>, opts: IdentityOptions): Identity {
  const sub = text(claims, 'sub');
  if (sub === undefined)
    throw new GatehouseError('missing_claim', 'the "sub" claim is missing or not a string');
  const { groups, roles, overage } = opts.mapper.map(claims);
  const identity: Identity = {
    iss: opts.iss ?? text(claims, 'iss') ?? '',
    ...(opts.idp !== undefined ? { idp: opts.idp } : {}),
    ...(overage ? { groupsOverage: true } : {}),
    sub,
    email: trustedEmail(claims),
    preferredUsername:
      text(claims, 'preferred_username') ?? text(claims, 'username') ?? text(claims, 'cognito:username'),
    name: text(claims, 'name'),
    groups: Object.freeze(groups),
    roles: Object.freeze(roles),
    // A shallow own copy: the caller's object stays untouched, and the spread defines
    // `__proto__` as a plain own key instead of changing the prototype.
    claims: Object.freeze({ ...claims }),
    authType: opts.authType,
    clientId: text(claims, 'client_id') ?? text(claims, 'azp'),
    expiresAt: opts.expiresAt,
    sid: text(claims, 'sid'),
    ...(opts.binding !== undefined ? { binding: opts.binding } : {}),
  };
  return Object.freeze(identity);
}

/** An own string claim, non-empty, at most {@link MAX_TEXT} long, without control characters. */
function text(claims: Record<string, unknown>, key: string): string | undefined {
  if (!Object.hasOwn(claims, key)) return undefined;
  const value = claims[key];
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT) return undefined;
  return CONTROL.test(value) ? undefined : value;
}

function trustedEmail(claims: Record<string, unknown>): string | undefined {
  if (!Object.hasOwn(claims, 'email')) return undefined;
  const verified = Object.hasOwn(claims, 'email_verified') ? claims.email_verified : undefined;
  // Cognito has sent the string "false"; both spellings mean the IdP did not check it.
  if (verified === false || verified === 'false') return undefined;
  const email = claims.email;
  return typeof email === 'string' && isWellFormedEmail(email) ? email : undefined;
}

/**
 * Exactly one `@`, a plain local part, a domain of at least two DNS labels, ≤ 254 chars.
 * Also used to validate `emails:` policy values, so both sides obey the same grammar.
 */
export function isWellFormedEmail(value: string): boolean {
  if (value.length > MAX_EMAIL) return false;
  const at = value.indexOf('@');
  if (at <= 0 || at !== value.lastIndexOf('@')) return false;
  const local = value.slice(0, at);
  if (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    return false;
  return isDomainName(value.slice(at + 1));
}

/** Two or more DNS labels (letters, digits, inner hyphens), with no empty label. */
export function isDomainName(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.split('.');
  // An all-digit last label is an IP address in disguise, never a mail domain.
  return (
    labels.length >= 2 && labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!)
  );
}
