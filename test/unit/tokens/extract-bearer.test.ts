import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractBearer } from '../../../src/tokens/extract-bearer.ts';
import { parseToken } from '../../../src/tokens/token-shape.ts';

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

  it('refuses a Bearer without exactly one space and a token', () => {
    for (const bad of ['Bearer', 'Bearer ', 'Bearer  abc', 'Bearer\tabc']) {
      assert.throws(() => extractBearer(bad), malformed, JSON.stringify(bad));
    }
  });

  it("leaves the token's characters to parseToken, which refuses every non-b64token", () => {
    // Checked once, on a verified-token cache miss: a hit is a token that already passed.
    for (const bad of ['abc def', 'abc ', 'a=b', '=abc', 'abc,def', '"abc"', 'ab\u00e9', 'a.b.c d']) {
      assert.equal(extractBearer(`Bearer ${bad}`), bad);
      assert.throws(() => parseToken(bad), malformed, JSON.stringify(bad));
    }
  });
});
