import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractBearer } from '../../../src/tokens/extract-bearer.ts';

const malformed = { name: 'GatehouseError', code: 'token_malformed' };

describe('extractBearer', () => {
  it('reads the token of one Bearer header, scheme in any case', () => {
    assert.equal(extractBearer('Bearer abc.def-ghi_jkl'), 'abc.def-ghi_jkl');
    assert.equal(extractBearer('bearer abc'), 'abc');
    assert.equal(extractBearer('BEARER abc'), 'abc');
    assert.equal(extractBearer(['Bearer a~b+c/d==']), 'a~b+c/d==');
  });

  it('answers undefined without a bearer credential', () => {
    assert.equal(extractBearer(undefined), undefined);
    assert.equal(extractBearer(''), undefined);
    assert.equal(extractBearer([]), undefined);
    assert.equal(extractBearer('Basic dXNlcjpwYXNz'), undefined);
    assert.equal(extractBearer('Bearerish abc'), undefined);
    assert.equal(extractBearer('DPoP abc'), undefined);
    assert.equal(extractBearer('Bear'), undefined);
  });

  it('refuses more than one Authorization header', () => {
    assert.throws(() => extractBearer(['Bearer a', 'Bearer b']), {
      ...malformed,
      message: 'more than one Authorization header',
    });
  });

  it('refuses a Bearer without exactly one space and a b64token', () => {
    for (const bad of [
      'Bearer',
      'Bearer ',
      'Bearer  abc',
      'Bearer\tabc',
      'Bearer abc def',
      'Bearer abc ',
      'Bearer a=b',
      'Bearer =abc',
      'Bearer abc,def',
      'Bearer "abc"',
      'Bearer ab\u00e9',
    ]) {
      assert.throws(() => extractBearer(bad), malformed, JSON.stringify(bad));
    }
  });
});
