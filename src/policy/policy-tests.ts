/**
 * The config's own `tests:` (run by `gatehouse check`): each names a URL, claims and the
 * expected outcome, and is decided exactly as `explain` would. A route in dry run is tested
 * on what its policy decides, not on the allow it lets through, since the tests are how a
 * policy is checked before it is enforced.
 */
import type { Config } from '../config/schema.ts';
import { GatehouseError, type ReasonCode } from '../errors.ts';
import { createExplainer } from './explain.ts';

export interface PolicyTestFailure {
  /** position in `config.tests`; the caller turns it into FILE:LINE:COL */
  index: number;
  expected: string;
  actual: string;
  reason: ReasonCode;
  url: string;
}

export interface PolicyTestReport {
  passed: number;
  failures: PolicyTestFailure[];
}

/** @throws TypeError when a route policy cannot compile (the config is invalid anyway) */
export function runPolicyTests(config: Config): PolicyTestReport {
  const explainer = createExplainer(config);
  const failures: PolicyTestFailure[] = [];
  let passed = 0;
  config.tests.forEach((test, index) => {
    let actual: string;
    let reason: ReasonCode;
    try {
      const result = explainer({
        url: test.url,
        method: test.method,
        claims: test.claims,
        authType: test.auth_type,
        ...(test.provider !== undefined ? { provider: test.provider } : {}),
        ...(test.client_id !== undefined ? { clientId: test.client_id } : {}),
        ...(test.scopes !== undefined ? { scopes: test.scopes } : {}),
        ...(test.source_ip !== undefined ? { sourceIp: test.source_ip } : {}),
      });
      // No route answers 404: for a test that is a deny.
      actual = result.enforcedDecision === 'no_route' ? 'deny' : result.enforcedDecision;
      reason = result.reason;
    } catch (err) {
      // A request the proxy refuses (malformed target, unusable sub) is a deny with that code.
      if (!(err instanceof GatehouseError)) throw err;
      actual = 'deny';
      reason = err.code;
    }
    if (actual === test.expect) passed++;
    else failures.push({ index, expected: test.expect, actual, reason, url: test.url });
  });
  return { passed, failures };
}
