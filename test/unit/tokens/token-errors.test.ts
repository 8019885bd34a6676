import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errors } from 'jose';
import { GatehouseError } from '../../../src/errors.ts';
import { fingerprint, fromJoseError, tokenHash } from '../../../src/tokens/token-errors.ts';

const claimFailure = (claim: string, reason: string) =>
  new errors.JWTClaimValidationFailed('x', {}, claim, reason);

describe('fromJoseError', () => {
  const cases: [unknown, string][] = [
    [new errors.JWTExpired('x', {}, 'exp', 'check_failed'), 'token_expired'],
    [claimFailure('aud', 'check_failed'), 'audience_mismatch'],
    [claimFailure('iss', 'check_failed'), 'issuer_mismatch'],
    [claimFailure('typ', 'check_failed'), 'typ_mismatch'],
    [claimFailure('nbf', 'check_failed'), 'token_not_yet_valid'],
    [claimFailure('exp', 'missing'), 'missing_claim'],
    [claimFailure('sub', 'missing'), 'missing_claim'],
    [claimFailure('exp', 'invalid'), 'token_malformed'],
    [new errors.JWSSignatureVerificationFailed(), 'bad_signature'],
    [new errors.JOSEAlgNotAllowed(), 'alg_not_allowed'],
    [new errors.JOSENotSupported(), 'alg_not_allowed'],
    [new errors.JWSInvalid(), 'token_malformed'],
    [new errors.JWTInvalid(), 'token_malformed'],
    [new TypeError('weird'), 'token_malformed'],
  ];
  for (const [err, code] of cases) {
    it(`${(err as Error).constructor.name} ${(err as { claim?: string }).claim ?? ''} → ${code}`, () => {
      const mapped = fromJoseError(err);
      assert.ok(mapped instanceof GatehouseError);
      assert.equal(mapped.code, code);
      assert.equal(mapped.cause, err);
    });
  }

  it('passes a GatehouseError through', () => {
    const err = new GatehouseError('crit_unsupported');
    assert.equal(fromJoseError(err), err);
  });
});

describe('tokenHash', () => {
  it('is SHA-256 base64url, and the fingerprint a 12-character prefix', () => {
    const h = tokenHash('abc');
    assert.equal(h, 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    assert.equal(fingerprint(h), 'ungWv48Bz-pB');
  });
});
