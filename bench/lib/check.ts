/**
 * One guarded ratio against its two bounds: the regression limit (`bench:guard` fails when it
 * does not hold) and issue 9's target (reported as met or not). Used by the guard and by the
 * report, so both judge a ratio the same way.
 */
export interface Check {
  name: string;
  value: number | null;
  limit: string;
  ok: boolean;
  target: string;
  targetMet: boolean;
}

/** An upper- (`≤`) or lower-bound (`≥`) check of one measured ratio (`null`: not measured). */
export function check(
  name: string,
  value: number | null,
  bound: '≤' | '≥',
  limit: number,
  target: number,
): Check {
  const holds = (x: number) => value !== null && (bound === '≤' ? value <= x : value >= x);
  return {
    name,
    value,
    limit: `${bound} ${limit}`,
    ok: holds(limit),
    target: `${bound} ${target}`,
    targetMet: holds(target),
  };
}
