import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/config/schema.ts';
import { configSummary, readableDuration } from '../../../src/demo/demo-summary.ts';

describe('demo summary', () => {
  it('writes durations as a person does', () => {
    assert.equal(readableDuration(28_800_000), '8h');
    assert.equal(readableDuration(5_400_000), '1h30m');
    assert.equal(readableDuration(90_061_000), '1d1h1m1s');
    assert.equal(readableDuration(1500), '1.5s');
    assert.equal(readableDuration(250), '250ms');
  });

  it('prints routes, session lifetimes and the role map compactly', () => {
    const config = configSchema.parse({
      roles: { claims: ['groups'], map: { admins: 'admin' } },
      routes: [
        { name: 'pub', match: { path: '/public' }, upstream: 'http://127.0.0.1:1', policy: 'public' },
        {
          name: 'admin',
          match: { path: '/admin' },
          upstream: 'http://127.0.0.1:1',
          policy: { allow: [{ roles: ['admin'] }] },
        },
      ],
    });
    assert.deepEqual(configSummary(config), [
      'Routes    pub    /public  public',
      '          admin  /admin   roles [admin] (session, bearer)',
      'Roles     groups: admins → admin',
    ]);
  });
});
