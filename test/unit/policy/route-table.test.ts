import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type RouteConfig, routeSchema } from '../../../src/config/schema.ts';
import { compileRoutes } from '../../../src/policy/route-table.ts';

type Match = { host?: string; path?: string; methods?: string[] };
const route = (name: string, match: Match = {}, extra: object = {}): RouteConfig =>
  routeSchema.parse({ name, match, upstream: 'http://127.0.0.1:9000', policy: 'public', ...extra });

describe('compileRoutes', () => {
  test('path prefixes are segment-aware', () => {
    const table = compileRoutes([route('admin', { path: '/admin' }), route('root', { path: '/' })]);
    for (const path of ['/admin', '/admin/', '/admin/x', '/admin/x/y'])
      assert.equal(table.match(undefined, path, 'GET')?.name, 'admin', path);
    for (const path of ['/administrator', '/admin-x', '/', '/x/admin'])
      assert.equal(table.match(undefined, path, 'GET')?.name, 'root', path);
  });

  test('a configured trailing slash or unnormalized path is compiled to the canonical prefix', () => {
    const table = compileRoutes([route('a', { path: '/admin/' }), route('b', { path: '/%61pi//v1' })]);
    assert.equal(table.match(undefined, '/admin', 'GET')?.name, 'a');
    assert.equal(table.match(undefined, '/api/v1/x', 'GET')?.name, 'b');
  });

  test('exact host beats wildcard beats any host, whatever the path length', () => {
    const table = compileRoutes([
      route('any', { path: '/a/b/c' }),
      route('wild', { host: '*.example.com', path: '/a/b' }),
      route('exact', { host: 'app.example.com', path: '/' }),
    ]);
    assert.equal(table.match('app.example.com', '/a/b/c', 'GET')?.name, 'exact');
    assert.equal(table.match('other.example.com', '/a/b/c', 'GET')?.name, 'wild');
    assert.equal(table.match('other.example.com', '/x', 'GET'), undefined);
    assert.equal(table.match('example.org', '/a/b/c', 'GET')?.name, 'any');
  });

  test('wildcards match any subdomain depth but never the apex; the longer suffix wins', () => {
    const table = compileRoutes([
      route('short', { host: '*.example.com' }),
      route('long', { host: '*.api.example.com' }),
    ]);
    assert.equal(table.match('a.example.com', '/', 'GET')?.name, 'short');
    assert.equal(table.match('a.b.example.com', '/', 'GET')?.name, 'short');
    assert.equal(table.match('v1.api.example.com', '/', 'GET')?.name, 'long');
    assert.equal(table.match('api.example.com', '/', 'GET')?.name, 'short');
    assert.equal(table.match('example.com', '/', 'GET'), undefined);
    assert.equal(table.match('badexample.com', '/', 'GET'), undefined);
  });

  test('hosts compare case-insensitively, ignore a trailing dot, and ignore the port unless configured', () => {
    const table = compileRoutes([
      route('plain', { host: 'App.Example.com' }),
      route('ported', { host: 'app.example.com:8443', path: '/p' }),
    ]);
    assert.equal(table.match('APP.example.COM', '/', 'GET')?.name, 'plain');
    assert.equal(table.match('app.example.com.', '/', 'GET')?.name, 'plain');
    assert.equal(table.match('app.example.com:8080', '/', 'GET')?.name, 'plain');
    assert.equal(table.match('app.example.com:8443', '/p', 'GET')?.name, 'ported');
    assert.equal(table.match('app.example.com', '/p', 'GET')?.name, 'plain');
    assert.equal(table.match('app.example.com:8080', '/p', 'GET')?.name, 'plain');
  });

  test('IP literal hosts: an IPv4 host matches exactly, an IPv6 one falls to any-host routes', () => {
    const table = compileRoutes([route('v4', { host: '127.0.0.1' }), route('any')]);
    assert.equal(table.match('127.0.0.1:8080', '/', 'GET')?.name, 'v4');
    assert.equal(table.match('[::1]:8080', '/', 'GET')?.name, 'any');
    assert.equal(table.match('', '/', 'GET')?.name, 'any');
  });

  test('longest prefix wins, then a route with methods, then config order; a method miss falls through', () => {
    const table = compileRoutes([
      route('first', { path: '/api' }),
      route('second', { path: '/api' }),
      route('get-only', { path: '/api', methods: ['get'] }),
      route('deep-post', { path: '/api/v1', methods: ['POST'] }),
    ]);
    assert.equal(table.match(undefined, '/api/x', 'GET')?.name, 'get-only');
    assert.equal(table.match(undefined, '/api/x', 'DELETE')?.name, 'first');
    assert.equal(table.match(undefined, '/api/v1/x', 'POST')?.name, 'deep-post');
    assert.equal(table.match(undefined, '/api/v1/x', 'GET')?.name, 'get-only');
    assert.equal(table.match(undefined, '/api/v1/x', 'HEAD')?.name, 'first');
  });

  test('no route → undefined; byName; audience defaults to the upstream origin', () => {
    const table = compileRoutes([
      route('a', { path: '/a' }, { upstream: 'https://svc.internal:8443/base?x=1' }),
      route('b', { path: '/b' }, { audience: 'api://b' }),
    ]);
    assert.equal(table.match('h', '/c', 'GET'), undefined);
    assert.equal(table.byName('a')?.audience, 'https://svc.internal:8443');
    assert.equal(table.byName('b')?.audience, 'api://b');
    assert.equal(table.byName('zzz'), undefined);
    assert.equal(table.routes.length, 2);
    assert.ok(Object.isFrozen(table.routes));
  });

  test('duplicate names and upstream credentials are refused at compile time', () => {
    const dup = () => compileRoutes([route('a'), route('a')]);
    assert.throws(dup, { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /"a" is used twice/ });
    const creds = () => compileRoutes([route('a', {}, { upstream: 'http://u:p@h' })]);
    assert.throws(creds, { code: 'ERR_INVALID_ARG_VALUE', message: /credentials/ });
    const badPath = () => compileRoutes([route('a', { path: '/a;b' })]);
    assert.throws(badPath, { code: 'ERR_INVALID_ARG_VALUE', message: /match\.path/ });
  });

  // A plain reference: every matching route, then the most specific by the documented order.
  function reference(routes: RouteConfig[], host: string | undefined, path: string, method: string) {
    const reqHost = (host ?? '').toLowerCase().replace(/\.$/, '');
    const [reqName = '', reqPort = ''] = reqHost.split(':');
    const scored = routes.flatMap((r, index) => {
      const prefix = r.match.path.length > 1 ? r.match.path.replace(/\/$/, '') : '/';
      const pathOk = prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
      const methodOk = !r.match.methods || r.match.methods.includes(method as never);
      if (!pathOk || !methodOk) return [];
      const [cfgName = '', cfgPort = ''] = (r.match.host ?? '').toLowerCase().split(':');
      if (cfgPort && cfgPort !== reqPort) return [];
      let kind: number;
      let suffix = 0;
      if (r.match.host === undefined) kind = 2;
      else if (cfgName.startsWith('*.')) {
        if (!(reqName.endsWith(cfgName.slice(1)) && reqName.length > cfgName.length - 1)) return [];
        kind = 1;
        suffix = cfgName.length;
      } else if (cfgName === reqName && reqName !== '') kind = 0;
      else return [];
      return [{ r, key: [kind, -suffix, cfgPort ? 0 : 1, -prefix.length, r.match.methods ? 0 : 1, index] }];
    });
    scored.sort((a, b) => {
      for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i]! - b.key[i]!;
      return 0;
    });
    return scored[0]?.r.name;
  }

  test('property: the compiled matcher agrees with a plain reference implementation', () => {
    const label = fc.constantFrom('a', 'b', 'api', 'example');
    const hostName = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => `${ls.join('.')}.com`);
    const port = fc.constantFrom('', ':8080', ':8443');
    const seg = fc.constantFrom('a', 'b', 'admin', 'administrator', 'x');
    const path = fc.array(seg, { maxLength: 3 }).map((s) => `/${s.join('/')}`);
    const method = fc.constantFrom('GET', 'POST', 'DELETE');
    const cfgHost = fc.option(
      fc.tuple(fc.boolean(), hostName, port).map(([wild, h, p]) => `${wild ? '*.' : ''}${h}${p}`),
      { nil: undefined },
    );
    const cfg = fc.record({
      host: cfgHost,
      path,
      methods: fc.option(fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 }), { nil: undefined }),
    });
    const reqHost = fc.option(
      fc
        .tuple(hostName, port, fc.boolean())
        .map(([h, p, upper]) => (upper ? `${h.toUpperCase()}${p}` : `${h}${p}`)),
      { nil: undefined },
    );
    fc.assert(
      fc.property(
        fc.array(cfg, { minLength: 1, maxLength: 8 }),
        fc.array(fc.tuple(reqHost, path, method), { minLength: 1, maxLength: 10 }),
        (cfgs, reqs) => {
          const routes = cfgs.map((m, i) =>
            route(`r${i}`, Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined))),
          );
          const table = compileRoutes(routes);
          for (const [host, p, m] of reqs) {
            assert.equal(table.match(host, p, m)?.name, reference(routes, host, p, m), `${host} ${m} ${p}`);
          }
        },
      ),
      { seed: 1, numRuns: 500 },
    );
  });
});
