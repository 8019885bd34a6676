/**
 * `record` (pipeline/observe.ts), run once per finished request: the request counter, the audit
 * line, and – with the admin live view on – one push into the recent-decisions ring. The case
 * without the ring is the reference: the ring must add next to nothing to it.
 *
 * Run: node_modules/.bin/node bench/micro/record.bench.ts
 */
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { Registry } from 'prom-client';
import { createAuditLog } from '../../src/observe/audit.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { createRecentDecisions } from '../../src/observe/recent-decisions.ts';
import { record } from '../../src/pipeline/observe.ts';
import type { Runtime } from '../../src/pipeline/runtime.ts';
import { newScope } from '../../src/pipeline/scope.ts';

const observing = {
  metrics: createMetrics(new Registry(), { defaultMetrics: false }),
  audit: createAuditLog('/dev/null'),
};
// record reads only the observing parts of the runtime.
const without = observing as unknown as Runtime;
const withRing = { ...observing, recent: createRecentDecisions(500) } as unknown as Runtime;

const scope = newScope({
  requestId: undefined,
  clientIp: '192.0.2.7',
  proto: 'https',
  host: 'app.example.com',
  method: 'GET',
});
scope.outcome = { decision: 'deny', reason: 'policy_denied', status: 403 } as never;

summary(() => {
  group('record a finished request', () => {
    bench('reference: counter + audit line', () => do_not_optimize(record(without, scope, 403)));
    bench('counter + audit line + live-view ring', () => do_not_optimize(record(withRing, scope, 403)));
  });
  group('ring alone', () => {
    const ring = createRecentDecisions(500);
    const entry = {
      request_id: 'r',
      method: 'GET',
      host: 'h',
      path: '/',
      client_ip: 'c',
      decision: 'deny' as const,
      reason: 'policy_denied' as const,
      status: 403,
      duration_ms: 1,
    };
    bench('push', () => ring.push(entry, 1));
  });
});

await run();
await observing.audit.close();
