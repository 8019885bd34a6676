/**
 * The per-request routing hot path: `parseRequestTarget` then `RouteTable.match`, over a table
 * of 50 routes (exact hosts, wildcards, any-host prefixes, method-specific routes).
 *
 * Run: node_modules/.bin/node bench/micro/route-match.bench.ts
 */
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { routeSchema } from '../../src/config/schema.ts';
import { parseRequestTarget } from '../../src/http/request-target.ts';
import { compileRoutes } from '../../src/policy/route-table.ts';

const configs = [];
for (let i = 0; i < 10; i++) {
  const up = { upstream: `http://10.0.0.${i}:8080`, policy: 'public' as const };
  configs.push(
    routeSchema.parse({
      name: `exact-${i}`,
      match: { host: `app${i}.example.com`, path: `/svc${i}` },
      ...up,
    }),
    routeSchema.parse({ name: `exact-root-${i}`, match: { host: `app${i}.example.com` }, ...up }),
    routeSchema.parse({ name: `wild-${i}`, match: { host: `*.t${i}.example.com`, path: '/api' }, ...up }),
    routeSchema.parse({ name: `any-${i}`, match: { path: `/public${i}/assets` }, ...up }),
    routeSchema.parse({ name: `post-${i}`, match: { path: `/public${i}`, methods: ['POST'] }, ...up }),
  );
}
const table = compileRoutes(configs);

const plain = '/svc7/orders/12345?expand=items';
const tricky = '/public3//x/../assets/%61pp.js?v=1';
const miss = '/nothing/here';

summary(() => {
  group('parseRequestTarget', () => {
    bench('plain path', () => do_not_optimize(parseRequestTarget(plain)));
    bench('dots, escapes, double slash', () => do_not_optimize(parseRequestTarget(tricky)));
  });
  group('match', () => {
    bench('exact host', () => do_not_optimize(table.match('app7.example.com', '/svc7/orders/12345', 'GET')));
    bench('wildcard host', () => do_not_optimize(table.match('eu.t4.example.com:8443', '/api/v1', 'GET')));
    bench('any host, deep prefix', () =>
      do_not_optimize(table.match('other.test', '/public3/assets/app.js', 'GET')),
    );
    bench('no route', () => do_not_optimize(table.match('other.test', miss, 'GET')));
  });
  group('per request', () => {
    bench('parse + match', () => {
      const target = parseRequestTarget(plain);
      do_not_optimize(table.match('app7.example.com', target.path, 'GET'));
    });
  });
});

await run();
