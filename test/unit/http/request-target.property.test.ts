/**
 * issue 10: the request-target parser is the first code to read attacker bytes. Whatever it is
 * given – any UTF-16 string, latin1 bytes as node hands them over, long inputs – it returns a
 * target or throws `GatehouseError('bad_request')`; nothing else ever escapes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GatehouseError } from '../../../src/errors.ts';
import { MAX_TARGET_LENGTH, parseRequestTarget } from '../../../src/http/request-target.ts';

function parseOrCode(raw: unknown): string {
  try {
    const t = parseRequestTarget(raw as string);
    assert.equal(typeof t.path, 'string');
    assert.ok(t.path.startsWith('/'));
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof GatehouseError, `escaped: ${String(err)}`);
    assert.equal(err.code, 'bad_request');
    return err.code;
  }
}

const piece = fc.oneof(
  fc.constantFrom(
    '/',
    '//',
    '.',
    '..',
    '%',
    '%2',
    '%2f',
    '%2F',
    '%5c',
    '%00',
    '%ff',
    '%c3%a9',
    '%2e%2e',
    ';',
    '?',
    '#',
    '\\',
    ' ',
    '\t',
    '\u0000',
    '\u00ff',
    '\ud800',
    '\u{1f600}',
    '*',
    'http://x',
    '@',
    ':',
  ),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);

describe('parseRequestTarget properties', () => {
  test('property: any string only ever yields bad_request', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (s) => void parseOrCode(s)),
      { seed: 40, numRuns: 2000 },
    );
  });

  test('property: slash-led soups of hostile pieces only ever yield bad_request', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (parts) => void parseOrCode(`/${parts.join('')}`)),
      { seed: 41, numRuns: 2000 },
    );
  });

  test('non-strings and huge inputs are bad_request', () => {
    for (const v of [
      undefined,
      null,
      1,
      {},
      [],
      '',
      'a',
      `/${'a'.repeat(MAX_TARGET_LENGTH)}`,
      `/${'../'.repeat(5000)}`,
    ]) {
      assert.equal(parseOrCode(v), 'bad_request', String(v).slice(0, 20));
    }
    assert.equal(parseOrCode(`/${'a/'.repeat(3000)}`), 'ok');
  });
});
