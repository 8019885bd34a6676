/**
 * Codes stay documented: every reason code in the registry has a README row with its status,
 * and the README lists no code that is gone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GatehouseError, REASONS, type ReasonCode } from '../../src/errors.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.split('<!-- reason-codes:start -->')[1]?.split('<!-- reason-codes:end -->')[0] ?? '';
const documented = new Map(
  [...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const),
);

describe('reason code registry', () => {
  it('documents every code with its status, and nothing else', () => {
    assert.ok(documented.size > 0, 'README reason-code table not found');
    assert.deepEqual([...documented.keys()].sort(), Object.keys(REASONS).sort());
    for (const [code, status] of documented) assert.equal(status, REASONS[code as ReasonCode].status, code);
  });

  it('GatehouseError carries code, status and a client-safe message', () => {
    const err = new GatehouseError('token_expired');
    assert.equal(err.code, 'token_expired');
    assert.equal(err.status, 401);
    assert.equal(err.message, REASONS.token_expired.detail);
  });
});
