import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerIssuerSchema } from '../../../src/config/schema.ts';
import { audienceMatches, checkIntrospected } from '../../../src/tokens/introspection.ts';

const cfg = bearerIssuerSchema.parse({
  issuer: 'https://idp.example',
  audiences: ['api://a', 'api://b'],
  required_claims: ['sub'],
});
const NOW = 1_800_000_000_000; // epoch ms
const S = NOW / 1000;

describe('checkIntrospected', () => {
  it('accepts an answer within its time window, audience and issuer', () => {
    checkIntrospected(
      { active: true, sub: 's', exp: S + 60, nbf: S, iat: S, aud: 'api://b', iss: cfg.issuer },
      cfg,
      NOW,
    );
    checkIntrospected({ active: true, sub: 's' }, cfg, NOW); // every member but active is optional
  });

  it('refuses with the precise code', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ sub: 's', exp: S - 31 }, 'token_expired'],
      [{ sub: 's', nbf: S + 31 }, 'token_not_yet_valid'],
      [{ sub: 's', iat: S + 31 }, 'token_not_yet_valid'],
      [{ sub: 's', exp: 'soon' }, 'token_malformed'],
      [{ sub: 's', aud: 'api://c' }, 'audience_mismatch'],
      [{ sub: 's', iss: 'https://idp.example/' }, 'issuer_mismatch'],
      [{}, 'missing_claim'],
    ];
    for (const [claims, code] of cases) {
      assert.throws(
        () => checkIntrospected({ active: true, ...claims }, cfg, NOW),
        { code },
        JSON.stringify(claims),
      );
    }
    // within the 30 s skew
    checkIntrospected({ active: true, sub: 's', exp: S - 29 }, cfg, NOW);
  });
});

describe('audienceMatches', () => {
  it('needs one accepted audience, exactly', () => {
    assert.equal(audienceMatches('api://a', ['api://a']), true);
    assert.equal(audienceMatches(['x', 'api://a'], ['api://a']), true);
    assert.equal(audienceMatches('API://A', ['api://a']), false);
    assert.equal(audienceMatches(['api://a/'], ['api://a']), false);
    assert.equal(audienceMatches([1, null], ['api://a']), false);
    assert.equal(audienceMatches(undefined, ['api://a']), false);
  });
});
