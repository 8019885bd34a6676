import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineCounter, parseDocument } from 'yaml';
import { formatPath, PositionMap, sortProblems } from '../../../src/config/positions.ts';

describe('formatPath', () => {
  it('writes identifiers dotted, indexes bracketed and other keys quoted', () => {
    assert.equal(formatPath([]), '');
    assert.equal(formatPath(['routes', 0, 'policy', 'allow', 1, 'roles']), 'routes[0].policy.allow[1].roles');
    assert.equal(formatPath(['roles', 'map', 'Okta-Admins']), 'roles.map["Okta-Admins"]');
    assert.equal(formatPath(['claims', 'a.b']), 'claims["a.b"]');
    assert.notEqual(formatPath(['a.b']), formatPath(['a', 'b']));
  });
});

describe('PositionMap', () => {
  const text = 'a:\n  b: 1\n';
  const lines = new LineCounter();
  parseDocument(text, { lineCounter: lines });
  const map = new PositionMap('f.yaml', lines);
  map.record([], 0);
  map.record(['a'], 5, 0);
  map.record(['a', 'b'], 8, 5);

  it('points at values, keys, and the nearest written ancestor', () => {
    assert.deepEqual(map.locate({ path: ['a', 'b'], message: 'm' }), {
      file: 'f.yaml',
      line: 2,
      col: 6,
      path: 'a.b',
      message: 'm',
    });
    assert.equal(map.locate({ path: ['a', 'b'], message: 'm', at: 'key' }).col, 3);
    assert.deepEqual(map.locate({ path: ['a', 'c'], message: 'm' }), {
      file: 'f.yaml',
      line: 1,
      col: 1,
      path: 'a.c',
      message: 'm',
    });
    assert.equal(map.locate({ path: ['x'], message: 'm', anchor: ['a', 'b'] }).line, 2);
  });

  it('sorts by position and drops exact duplicates', () => {
    const p = (line: number, col: number, path = 'p') => ({ file: 'f', line, col, path, message: 'm' });
    assert.deepEqual(sortProblems([p(2, 1), p(1, 5), p(1, 2, 'b'), p(1, 2, 'a'), p(2, 1)]), [
      p(1, 2, 'a'),
      p(1, 2, 'b'),
      p(1, 5),
      p(2, 1),
    ]);
  });
});
