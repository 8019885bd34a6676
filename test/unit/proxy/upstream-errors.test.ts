import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { reasonForUpstreamError } from '../../../src/proxy/upstream-errors.ts';

describe('reasonForUpstreamError', () => {
  const withCode = (code: string) => Object.assign(new Error('x'), { code });
  test('maps node error codes to reason codes', () => {
    assert.equal(reasonForUpstreamError(withCode('ECONNREFUSED')), 'upstream_unreachable');
    assert.equal(reasonForUpstreamError(withCode('ENOTFOUND')), 'upstream_unreachable');
    assert.equal(reasonForUpstreamError(withCode('DEPTH_ZERO_SELF_SIGNED_CERT')), 'upstream_unreachable');
    assert.equal(reasonForUpstreamError(withCode('ECONNECT_TIMEOUT')), 'upstream_timeout');
    assert.equal(reasonForUpstreamError(withCode('ECONNRESET')), 'upstream_reset');
    assert.equal(reasonForUpstreamError('not an error'), 'upstream_unreachable');
    assert.equal(reasonForUpstreamError(null), 'upstream_unreachable');
  });
});
