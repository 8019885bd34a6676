/**
 * One proxied exchange's state: its timers, its failure (at most one answer per request), and
 * its outcome, reported exactly once. Kept apart from the engines' wiring (undici for plain
 * HTTP, http-proxy-3 for websockets) so their handlers stay one-liners over these transitions.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { REASONS, type ReasonCode } from '../errors.ts';
import { sendError } from '../http/send-error.ts';
import type { CompiledRoute } from '../policy/route-table.ts';
import type { ProxyContext } from './proxy-context.ts';
import { writeSocketError } from './upstream-errors.ts';

/** nginx's "client closed request": the client left before an answer. */
export const CLIENT_CLOSED = 499;

export interface Flight {
  readonly route: CompiledRoute;
  readonly ctx: ProxyContext;
  /**
   * Tears the upstream side down (its request, and its response while one streams): set by
   * the engine once it has one; called when the exchange fails or the client leaves mid-body.
   */
  abortUpstream: (() => void) | undefined;
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

/**
 * A class, not an object literal: a literal with getters gets a fresh map per request (its
 * accessor closures cannot share one), maps live in old space, and each such map kept its
 * request's whole object graph alive through young-generation GCs – every request was promoted
 * and only freed by full mark-compacts, a sixth of the proxy's CPU (issue 9).
 */
class FlightImpl implements Flight {
  readonly route: CompiledRoute;
  readonly ctx: ProxyContext;
  abortUpstream: (() => void) | undefined = undefined;
  reason: ReasonCode | undefined = undefined;
  readonly #kind: 'web' | 'ws';
  readonly #req: IncomingMessage;
  readonly #sink: ServerResponse | Duplex;
  readonly #onCallbackError: (err: unknown) => void;
  readonly #startedAt = performance.now();
  #answeredAt: number | undefined = undefined;
  #timer: NodeJS.Timeout | undefined = undefined;
  #upgraded = false;
  #failed = false;
  #settled = false;

  constructor(
    kind: 'web' | 'ws',
    req: IncomingMessage,
    sink: ServerResponse | Duplex,
    route: CompiledRoute,
    ctx: ProxyContext,
    onCallbackError: (err: unknown) => void,
  ) {
    this.route = route;
    this.ctx = ctx;
    this.#kind = kind;
    this.#req = req;
    this.#sink = sink;
    this.#onCallbackError = onCallbackError;
    if (kind === 'web') {
      const res = sink as ServerResponse;
      // 'close' follows 'finish' and also a destroyed response, so it always comes, exactly once.
      // A client gone mid-body takes the upstream response down with it: no half-open socket.
      res.once('close', () => {
        this.#settle(res.headersSent ? res.statusCode : CLIENT_CLOSED);
        if (!res.writableFinished) this.abortUpstream?.();
      });
    } else {
      sink.once('close', () => this.#settle(CLIENT_CLOSED));
    }
  }

  get failed(): boolean {
    return this.#failed;
  }

  get settled(): boolean {
    return this.#settled;
  }

  #clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #settle(status: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#clear();
    try {
      const upstreamMs = Math.round((this.#answeredAt ?? performance.now()) - this.#startedAt);
      this.ctx.onDone?.({ status, reason: this.reason, upstreamMs });
    } catch (err) {
      this.#onCallbackError(err);
    }
  }

  armTimeout(): void {
    if (this.#timer || this.#failed || this.#settled || this.#answeredAt !== undefined) return;
    this.#timer = setTimeout(onTimeout, this.route.config.timeout, this);
    this.#timer.unref();
  }

  /** the response-headers clock ran out (called by the timer) */
  timedOut(): void {
    this.#timer = undefined;
    this.fail('upstream_timeout');
  }

  answered(status: number): void {
    this.#clear();
    this.#answeredAt ??= performance.now();
    if (this.#kind === 'ws') {
      this.#upgraded = status === 101;
      this.#settle(status);
    }
  }

  fail(code: ReasonCode): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#clear();
    this.#answeredAt ??= performance.now();
    this.reason ??= code;
    this.abortUpstream?.();
    if (this.#kind === 'web') {
      const { pages, target } = this.ctx;
      sendError(this.#req, this.#sink as ServerResponse, code, {
        requestId: this.ctx.requestId,
        page: { ...(pages ? { pages } : {}), retry: `${target.path}${target.search}` },
      });
    } else if (this.#upgraded) {
      this.#sink.destroy();
    } else {
      writeSocketError(this.#sink as Duplex, code, this.ctx.requestId);
      this.#settle(REASONS[code].status);
    }
  }

  abandon(): void {
    this.#failed = true;
    this.#clear();
    this.abortUpstream?.();
    this.#sink.destroy();
  }
}

function onTimeout(flight: FlightImpl): void {
  flight.timedOut();
}

export function createFlight(
  kind: 'web' | 'ws',
  req: IncomingMessage,
  sink: ServerResponse | Duplex,
  route: CompiledRoute,
  ctx: ProxyContext,
  onCallbackError: (err: unknown) => void,
): Flight {
  return new FlightImpl(kind, req, sink, route, ctx, onCallbackError);
}
