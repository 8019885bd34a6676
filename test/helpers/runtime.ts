/**
 * A whole Runtime built by the production `buildRuntime`, with no socket: nothing is started
 * (no discovery, no JWKS fetch), the store is in memory, logs are silent. For unit tests of the
 * pipeline stages, which run on fake requests the way fastify's `inject` does.
 */
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/load.ts';
import { createAuditLog } from '../../src/observe/audit.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import type { Runtime } from '../../src/pipeline/runtime.ts';
import { createUpstreamProxy } from '../../src/proxy/upstream-proxy.ts';
import { buildRuntime } from '../../src/server/build-runtime.ts';
import { createMemoryStore } from '../../src/store/store.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';

export async function buildTestRuntime(yaml: string): Promise<Runtime> {
  const loaded = parseConfig(yaml, 'test.yaml', { env: {}, readFile: () => '' });
  return buildRuntime(loaded, {
    log: silentLog,
    metrics: createMetrics(new Registry()),
    dispatcher: createOutboundDispatcher(),
    proxy: createUpstreamProxy(),
    audit: createAuditLog('/dev/null'),
    store: createMemoryStore(),
  });
}
