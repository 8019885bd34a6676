/**
 * Bounded waiting for something that happens asynchronously (a log or audit line, a metric, a
 * server becoming ready): poll, and fail with a message naming what never came. Both the time
 * and the number of checks are bounded, and a check that hangs (a request nobody answers)
 * cannot stretch the wait past its deadline.
 */

export interface WaitOptions {
  /** give up after this long (default 5000 ms) */
  timeoutMs?: number;
  /** what is awaited, for the failure message: "timed out after 3000ms waiting for <what>" */
  what?: string;
  /** pause between checks (default 25 ms) */
  intervalMs?: number;
}

const EXPIRED: unique symbol = Symbol('expired');

/**
 * Resolves with the first value of `produce` that is not `undefined`.
 *
 * A check that throws ends the wait with that error at once (e.g. "the child process exited"):
 * retrying cannot help then.
 */
export async function waitForValue<T>(
  produce: () => T | undefined | Promise<T | undefined>,
  opts: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 5000, what = 'condition', intervalMs = 25 } = opts;
  const deadline = Date.now() + timeoutMs;
  // The count bound backs up the clock: a check that answers at once still cannot spin forever.
  const maxChecks = Math.ceil(timeoutMs / Math.max(1, intervalMs)) + 1;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof EXPIRED>((resolve) => {
    timer = setTimeout(() => resolve(EXPIRED), timeoutMs);
  });
  try {
    for (let check = 0; check < maxChecks && Date.now() <= deadline; check++) {
      const pending = Promise.resolve(produce());
      const value = await Promise.race([pending, expired]);
      if (value === EXPIRED) {
        // The check still running may reject later: that is no longer anyone's concern.
        pending.catch(() => {});
        throw new Error(
          `timed out after ${timeoutMs}ms waiting for ${what} (its last check had not answered)`,
        );
      }
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
}

/**
 * Resolves once `predicate` returns true. `waitFor(p, { timeoutMs, what })`; the positional
 * form `waitFor(p, timeoutMs, what)` is kept for the tests that still call it so.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  opts: WaitOptions | number = {},
  what?: string,
): Promise<void> {
  const options = typeof opts === 'number' ? { timeoutMs: opts, ...(what ? { what } : {}) } : opts;
  await waitForValue(async () => ((await predicate()) ? true : undefined), options);
}
