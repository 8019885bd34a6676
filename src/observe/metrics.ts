/**
 * Prometheus metrics (prom-client). Label values come only from config (route names, issuer
 * URLs) or closed sets (decisions, reason kinds), never from request data, so cardinality is
 * bounded by the config. The registry is passed in, so tests and workers can own theirs.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
}

export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'decision'>;
  readonly authDuration: Histogram<'auth_type'>;
  readonly upstreamDuration: Histogram<'route'>;
  readonly upstreamErrors: Counter<'route' | 'kind'>;
  readonly jwksRefresh: Counter<'issuer' | 'result'>;
  readonly logins: Counter<'result' | 'provider'>;
  readonly sessionRefresh: Counter<'result'>;
  readonly configReloads: Counter<'result'>;
  readonly storeErrors: Counter<'op'>;
  readonly rateLimited: Counter<'route'>;
  /** cache hit/miss counters are read from the caches themselves at scrape time */
  watchCache(name: 'tokens' | 'sessions' | 'assertions', stats: () => CacheStats | undefined): void;
}

const FAST_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];
const UPSTREAM_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(registry = new Registry(), opts: { defaultMetrics?: boolean } = {}): Metrics {
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const caches = new Map<string, () => CacheStats | undefined>();

  const cacheEvents = new Gauge({
    name: 'gatehouse_cache_lookups',
    help: 'Lookups in the verified-token, session and assertion caches since start, by result.',
    labelNames: ['cache', 'result'] as const,
    registers,
    collect() {
      this.reset();
      for (const [cache, read] of caches) {
        const s = read();
        if (!s) continue;
        this.set({ cache, result: 'hit' }, s.hits);
        this.set({ cache, result: 'miss' }, s.misses);
      }
    },
  });
  void cacheEvents;

  return {
    registry,
    requests: new Counter({
      name: 'gatehouse_requests_total',
      help: 'Requests by route and decision (allow, deny, login, error).',
      labelNames: ['route', 'decision'] as const,
      registers,
    }),
    authDuration: new Histogram({
      name: 'gatehouse_auth_duration_seconds',
      help: 'Time to identify and authorize a request, by credential type.',
      labelNames: ['auth_type'] as const,
      buckets: FAST_BUCKETS,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'gatehouse_upstream_duration_seconds',
      help: 'Time from forwarding a request to the upstream response headers, by route.',
      labelNames: ['route'] as const,
      buckets: UPSTREAM_BUCKETS,
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Upstream failures by route and kind (unreachable, timeout, reset).',
      labelNames: ['route', 'kind'] as const,
      registers,
    }),
    jwksRefresh: new Counter({
      name: 'gatehouse_jwks_refresh_total',
      help: 'JWKS fetches by issuer and result.',
      labelNames: ['issuer', 'result'] as const,
      registers,
    }),
    logins: new Counter({
      name: 'gatehouse_logins_total',
      help: 'Completed login callbacks by result and provider.',
      labelNames: ['result', 'provider'] as const,
      registers,
    }),
    sessionRefresh: new Counter({
      name: 'gatehouse_session_refresh_total',
      help: 'Access-token refreshes of sessions by result.',
      labelNames: ['result'] as const,
      registers,
    }),
    configReloads: new Counter({
      name: 'gatehouse_config_reload_total',
      help: 'Config reloads by result.',
      labelNames: ['result'] as const,
      registers,
    }),
    storeErrors: new Counter({
      name: 'gatehouse_store_errors_total',
      help: 'Shared store failures by operation (check, revoke, once, refresh, sync, limit).',
      labelNames: ['op'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'gatehouse_rate_limited_total',
      help: 'Requests refused by a route rate limit (429), by route.',
      labelNames: ['route'] as const,
      registers,
    }),
    watchCache(name, stats) {
      caches.set(name, stats);
    },
  };
}
