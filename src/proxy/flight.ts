/**
 * One proxied exchange's state: its timers, its failure (at most one answer per request), and
 * its outcome, reported exactly once. Kept apart from the http-proxy-3 wiring so the event
 * handlers there stay one-liners over these transitions.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { REASONS, type ReasonCode } from '../errors.ts';
import { sendError } from '../pipeline/respond-error.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import { writeSocketError } from './upstream-errors.ts';
import type { ProxyContext } from './upstream-proxy.ts';

/** nginx's "client closed request": the client left before an answer. */
export const CLIENT_CLOSED = 499;

export interface Flight {
  readonly route: CompiledRoute;
  readonly ctx: ProxyContext;
  proxyReq: ClientRequest | undefined;
  /** why the exchange failed, when it did; the first cause wins */
  reason: ReasonCode | undefined;
  /** an error answer (or a reset) was chosen; later errors are echoes of it */
  readonly failed: boolean;
  /** the outcome was reported */
  readonly settled: boolean;
  /** starts the response-headers clock (`route.config.timeout`); idempotent */
  armTimeout(): void;
  /** the upstream answered (web: response headers; ws: 101 or a plain response) */
  answered(status: number): void;
  /** answers the client with `code` (or destroys a started response) and drops the upstream side */
  fail(code: ReasonCode): void;
  /** the client side broke: drop both sides without an answer (the outcome becomes 499) */
  abandon(): void;
}

export function createFlight(
  kind: 'web' | 'ws',
  req: IncomingMessage,
  sink: ServerResponse | Duplex,
  route: CompiledRoute,
  ctx: ProxyContext,
  onCallbackError: (err: unknown) => void,
): Flight {
  const startedAt = performance.now();
  let answeredAt: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let upgraded = false;
  let failed = false;
  let settled = false;

  const clear = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const upstreamMs = () => Math.round((answeredAt ?? performance.now()) - startedAt);
  const settle = (status: number) => {
    if (settled) return;
    settled = true;
    clear();
    try {
      ctx.onDone?.({ status, reason: flight.reason, upstreamMs: upstreamMs() });
    } catch (err) {
      onCallbackError(err);
    }
  };

  const flight: Flight = {
    route,
    ctx,
    proxyReq: undefined,
    reason: undefined,
    get failed() {
      return failed;
    },
    get settled() {
      return settled;
    },
    armTimeout() {
      if (timer || failed || settled || answeredAt !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        flight.fail('upstream_timeout');
      }, route.config.timeout);
      timer.unref();
    },
    answered(status) {
      clear();
      answeredAt ??= performance.now();
      if (kind === 'ws') {
        upgraded = status === 101;
        settle(status);
      }
    },
    fail(code) {
      if (failed) return;
      failed = true;
      clear();
      answeredAt ??= performance.now();
      flight.reason ??= code;
      flight.proxyReq?.destroy();
      if (kind === 'web') {
        sendError(req, sink as ServerResponse, code, { requestId: ctx.requestId });
      } else if (upgraded) {
        sink.destroy();
      } else {
        writeSocketError(sink as Duplex, code, ctx.requestId);
        settle(REASONS[code].status);
      }
    },
    abandon() {
      failed = true;
      clear();
      flight.proxyReq?.destroy();
      sink.destroy();
    },
  };

  if (kind === 'web') {
    const res = sink as ServerResponse;
    // 'close' follows 'finish' and also a destroyed response, so it always comes, exactly once.
    res.once('close', () => settle(res.headersSent ? res.statusCode : CLIENT_CLOSED));
  } else {
    sink.once('close', () => settle(CLIENT_CLOSED));
  }
  return flight;
}
