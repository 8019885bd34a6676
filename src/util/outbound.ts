/**
 * The one undici dispatcher for calls Gatehouse makes itself (discovery, JWKS, token,
 * userinfo, introspection): pooled keep-alive connections and hard timeouts, so a slow IdP
 * can never hold a request forever.
 */
import { Agent, type Dispatcher } from 'undici';

export interface OutboundOptions {
  /** connect + response-headers + body-idle timeout, ms */
  timeoutMs?: number;
  /** connections per origin */
  connections?: number;
}

export function createOutboundDispatcher(opts: OutboundOptions = {}): Dispatcher {
  const timeout = opts.timeoutMs ?? 10_000;
  return new Agent({
    connect: { timeout },
    headersTimeout: timeout,
    bodyTimeout: timeout,
    keepAliveTimeout: 30_000,
    connections: opts.connections ?? 16,
  });
}
