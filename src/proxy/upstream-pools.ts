/**
 * One undici `Pool` per upstream origin and connect timeout, reused across requests, so a
 * request does not pay a TCP (and TLS) handshake. undici reads the upstream's
 * `Keep-Alive: timeout=N` hint and retires an idle connection before the upstream does, which
 * avoids most reuse-after-close resets.
 *
 * Timeouts: `connect.timeout` is the route's `connect_timeout`; undici's own headers and body
 * timers are off, because the response clock starts only once the whole request was sent
 * (`Flight.armTimeout`, from the exchange's `onRequestSent`): a slow upload is the client's pace.
 */
import { isIP } from 'node:net';
import { Pool } from 'undici';

export interface UpstreamPools {
  get(upstream: URL, connectTimeoutMs: number): Pool;
  /** destroys every pooled connection; later `get` calls build fresh pools */
  destroy(): void;
}

export function createUpstreamPools(): UpstreamPools {
  const pools = new Map<string, Pool>();
  // Routes hand the same URL object every time: one lookup without building the origin string.
  let byUrl = new WeakMap<URL, Pool>();
  return {
    get(upstream, connectTimeoutMs) {
      let pool = byUrl.get(upstream);
      if (pool) return pool;
      const key = `${upstream.origin} ${connectTimeoutMs}`;
      pool = pools.get(key);
      if (!pool) {
        // SNI and the certificate check name the upstream host (never an IP, never the client's Host).
        const servername =
          upstream.protocol === 'https:' && isIP(upstream.hostname) === 0 ? upstream.hostname : undefined;
        pool = new Pool(upstream.origin, {
          connect: { timeout: connectTimeoutMs, ...(servername ? { servername } : {}) },
          headersTimeout: 0,
          bodyTimeout: 0,
        });
        pools.set(key, pool);
      }
      byUrl.set(upstream, pool);
      return pool;
    },
    destroy() {
      for (const pool of pools.values()) pool.destroy().catch(() => undefined);
      pools.clear();
      byUrl = new WeakMap();
    },
  };
}
