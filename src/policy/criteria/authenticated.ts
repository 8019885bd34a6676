/**
 * `authenticated: true` – any identity at all. Anonymous requests never reach a rule (they
 * are answered with login first), so this matches every identity it is asked about.
 */
import type { Criterion } from './criterion.ts';

export function compileAuthenticated(): Criterion {
  return () => true;
}
