/**
 * `claims: { path: [values] }` – for every listed path, the claim's value (or any element of
 * an array value) equals one accepted value. Comparison is type-strict: a Set compares by
 * SameValueZero, so the number 1 is not the string "1" and `true` is not "true"; objects
 * never equal anything. Paths are read with the same own-property rules as role claims.
 */
import { type ClaimPath, compileClaimPath, MAX_CLAIM_VALUES, readClaimValue } from '../claims.ts';
import type { Criterion } from './criterion.ts';

type Scalar = string | number | boolean;

export function compileClaims(claims: Readonly<Record<string, readonly Scalar[]>>): Criterion {
  const checks: { path: ClaimPath; accepted: ReadonlySet<unknown> }[] = [];
  for (const [path, values] of Object.entries(claims)) {
    checks.push({ path: compileClaimPath(path), accepted: new Set<unknown>(values) });
  }
  return (identity) => {
    for (const { path, accepted } of checks) {
      if (!valueMatches(readClaimValue(identity.claims, path), accepted)) return false;
    }
    return true;
  };
}

function valueMatches(value: unknown, accepted: ReadonlySet<unknown>): boolean {
  if (!Array.isArray(value)) return accepted.has(value);
  // Bounded: a huge array is searched only as far as any other claim list is.
  const n = Math.min(value.length, MAX_CLAIM_VALUES);
  for (let i = 0; i < n; i++) if (accepted.has(value[i])) return true;
  return false;
}
