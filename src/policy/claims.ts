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
 * Claim names that contain a dot and that issuers really use. Written unquoted, a path that
 * starts with one reads that claim – `kubernetes.io.namespace` is the `namespace` member of the
 * `kubernetes.io` claim of a Kubernetes service-account token – and never a nested
 * `kubernetes` → `io` claim, whichever the token holds: one spelling, one claim.
 */
const DOTTED_CLAIM_NAMES: readonly (readonly string[])[] = [['kubernetes', 'io']];

/** Most segments in one path: deeper claims are not something a policy should reach into. */
const MAX_SEGMENTS = 16;

/**
 * Split a claim path into its segments, or undefined when it is malformed (an empty segment,
 * whitespace, an unterminated or empty quote, more than {@link MAX_SEGMENTS} segments).
 *
 * Segments are separated by dots. A segment in double quotes is one claim name taken as it is,
 * dots included: `"https://example.com/roles"` or `"kubernetes.io".namespace`. Unquoted, the
 * leading segments `kubernetes.io` are that one claim name ({@link DOTTED_CLAIM_NAMES}).
 */
export function parseClaimPath(path: string): ClaimPath | undefined {
  const segments: string[] = [];
  const quoted: boolean[] = []; // which segments were written in quotes
  let i = 0;
  while (i <= path.length) {
    let segment: string;
    const isQuoted = path.charCodeAt(i) === 34; // "
    if (isQuoted) {
      const close = path.indexOf('"', i + 1);
      if (close === -1) return undefined;
      segment = path.slice(i + 1, close);
      i = close + 1;
      if (i < path.length && path[i] !== '.') return undefined; // `"a"b`
    } else {
      const dot = path.indexOf('.', i);
      const end = dot === -1 ? path.length : dot;
      segment = path.slice(i, end);
      if (segment.includes('"')) return undefined;
      i = end;
    }
    if (segment.length === 0 || /\s/.test(segment)) return undefined;
    segments.push(segment);
    quoted.push(isQuoted);
    if (segments.length > MAX_SEGMENTS) return undefined;
    i++; // past the dot (or past the end)
  }
  for (const name of DOTTED_CLAIM_NAMES) {
    const spelled =
      segments.length >= name.length && name.every((part, k) => segments[k] === part && !quoted[k]);
    if (spelled) segments.splice(0, name.length, name.join('.'));
  }
  return Object.freeze(segments);
}

/**
 * {@link parseClaimPath}, for config values.
 * @throws TypeError with `code: 'ERR_INVALID_ARG_VALUE'`
 */
export function compileClaimPath(path: string): ClaimPath {
  const segments = parseClaimPath(path);
  if (segments === undefined) {
    throw Object.assign(
      new TypeError(
        `claim path "${path}" must be dotted names such as a.b.c (quote a name that contains a dot: "a.b".c)`,
      ),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
  }
  return segments;
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
  const segments = typeof path === 'string' ? parseClaimPath(path) : path;
  // A malformed path (`a..b`, empty) names no claim; read nothing rather than throw per request.
  if (segments === undefined || segments.length === 0 || segments.includes('')) return [];
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
