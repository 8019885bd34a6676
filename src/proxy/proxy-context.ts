/**
 * What one proxied exchange is given (the request as the pipeline decided it) and what it
 * reports when done: shared by the proxy's wiring (`upstream-proxy.ts`) and its per-exchange
 * state (`flight.ts`).
 */
import type { ReasonCode } from '../errors.ts';
import type { RequestTarget } from '../http/request-target.ts';
import type { Pages } from '../pages/pages.ts';

export interface ProxyOutcome {
  /** the status the client got; 499 when the client went away before an answer */
  status: number;
  reason?: ReasonCode;
  /** ms from the call to the upstream's response headers (or to the failure) */
  upstreamMs: number;
}

export interface ProxyContext {
  target: RequestTarget;
  /** set on the upstream request last (identity headers); inbound copies already stripped */
  headers: Record<string, string>;
  /** the client address, resolved through trusted proxies */
  clientIp: string;
  proto: 'http' | 'https';
  /** the host the client asked for (`Host`, or a trusted `X-Forwarded-Host`) */
  host: string;
  requestId: string;
  /** the config's pages, for the error page a browser gets when the upstream fails */
  pages?: Pages;
  /** the socket peer is a trusted proxy: keep and extend its `X-Forwarded-For` (default false) */
  trustedPeer?: boolean;
  /** called exactly once per call to `web`/`ws` */
  onDone?(outcome: ProxyOutcome): void;
}
