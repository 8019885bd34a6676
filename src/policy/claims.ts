/**
 * Reading values out of token claims by dotted path (`realm_access.roles`,
 * `resource_access.my-client.roles`, `cognito:groups`).
 *
 * Claims are attacker-influenced JSON: any value may have any type, keys such as `__proto__`
 * may be own properties (JSON.parse creates them), and arrays may be huge. So traversal reads
 * own properties only, refuses prototype-related segments outright, never indexes arrays, and
 * every scan is bounded.
 */

/** Most array elements ever looked at in one claim value; the rest are ignored. */
export const MAX_CLAIM_VALUES = 1000;
/** Longest string value kept by {@link readClaimPath}; longer ones are ignored, not truncated. */
export const MAX_CLAIM_STRING = 256;

/**
 * Segments that never name a claim: even as own properties, following them is how prototype
 * confusion starts, and no IdP uses them.
 */
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** A claim path split once, at compile time, so look-ups do not split strings per request. */
export type ClaimPath = readonly string[];

/**
 * Split a dotted path. Empty segments (`a..b`, `.a`) are a programming or config error.
 * @throws TypeError with `code: 'ERR_INVALID_ARG_VALUE'`
 */
export function compileClaimPath(path: string): ClaimPath {
  const segments = path.split('.');
  if (path.length === 0 || segments.some((s) => s.length === 0)) {
    throw Object.assign(new TypeError(`claim path "${path}" must be dotted names such as a.b.c`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  return Object.freeze(segments);
}

/**
 * The raw value at `path`, or undefined when any segment is missing, inherited, forbidden,
 * or crosses a non-object (arrays are never indexed: `groups.0` reads nothing).
 */
export function readClaimValue(claims: Readonly<Record<string, unknown>>, path: ClaimPath): unknown {
  if (path.length === 0) return undefined;
  let current: unknown = claims;
  for (const segment of path) {
    if (FORBIDDEN_SEGMENTS.has(segment)) return undefined;
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/**
 * The string values at a dotted path: a string gives one value, an array gives its string
 * elements (others ignored); anything else gives none. At most {@link MAX_CLAIM_VALUES}
 * elements are scanned and strings longer than {@link MAX_CLAIM_STRING} or empty are skipped,
 * so one hostile claim cannot blow up headers or memory.
 */
export function readClaimPath(claims: Readonly<Record<string, unknown>>, path: string | ClaimPath): string[] {
  const segments = typeof path === 'string' ? path.split('.') : path;
  // A malformed path (`a..b`, empty) names no claim; read nothing rather than throw per request.
  if (segments.length === 0 || segments.includes('')) return [];
  const value = readClaimValue(claims, segments);
  if (typeof value === 'string') return acceptable(value) ? [value] : [];
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  const n = Math.min(value.length, MAX_CLAIM_VALUES);
  for (let i = 0; i < n; i++) {
    const item: unknown = value[i];
    if (typeof item === 'string' && acceptable(item)) out.push(item);
  }
  return out;
}

function acceptable(s: string): boolean {
  return s.length > 0 && s.length <= MAX_CLAIM_STRING;
}
