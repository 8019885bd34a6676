/**
 * "did you mean": the keys the schema knows at a path, and the closest one to a misspelt key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestKey, knownKeysAt, levenshtein } from '../../../src/config/known-keys.ts';
import { configSchema } from '../../../src/config/schema.ts';

describe('known keys', () => {
  it('reads the keys at a path off the schema, through lists, defaults and unions', () => {
    assert.ok(knownKeysAt(configSchema, []).includes('routes'));
    assert.ok(knownKeysAt(configSchema, ['server']).includes('public_url'));
    assert.ok(knownKeysAt(configSchema, ['routes', 3]).includes('policy'));
    assert.ok(knownKeysAt(configSchema, ['routes', 0, 'policy']).includes('allow'));
    assert.deepEqual(knownKeysAt(configSchema, ['nope']), []);
  });

  it('offers the closest key within two edits, and nothing when farther or tied', () => {
    const server = knownKeysAt(configSchema, ['server']);
    assert.equal(closestKey('publc_url', server), 'public_url');
    assert.equal(closestKey('Listen', server), 'listen');
    assert.equal(closestKey('polcy', knownKeysAt(configSchema, ['routes', 0])), 'policy');
    assert.equal(closestKey('completely_else', server), undefined);
    assert.equal(closestKey('ab', ['ac', 'ad']), undefined);
    assert.equal(levenshtein('kitten', 'sitting'), 3);
    assert.equal(levenshtein('kitten', 'sitting', 2), 2);
    assert.equal(levenshtein('x'.repeat(100), 'x'.repeat(99), 3), 3);
  });
});
