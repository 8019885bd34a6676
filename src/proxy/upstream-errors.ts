/**
 * Upstream failures mapped to stable reason codes. The mapping follows nginx: a refused, reset
 * or unresolvable upstream is a 502; an upstream that does not connect or answer in time is a
 * 504. The node error itself (with its addresses and stack) stays in our logs as a code only.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { REASONS, type ReasonCode } from '../errors.ts';

/** node's and undici's codes (`UND_ERR_*`: undici names the failure, a socket error its cause) */
const TIMEOUT_CODES = new Set([
  'ECONNECT_TIMEOUT',
  'ETIMEDOUT',
  'UPSTREAM_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET', // "other side closed": the upstream hung up before its answer
]);

/** The reason code for an error raised while talking to an upstream before its response. */
export function reasonForUpstreamError(err: unknown): ReasonCode {
  // undici wraps a connect failure's socket error: the cause names it (ECONNREFUSED, ENOTFOUND, …)
  const code =
    errorCode(err) === 'UND_ERR_CONNECT'
      ? errorCode((err as Error).cause) || 'UND_ERR_CONNECT'
      : errorCode(err);
  if (TIMEOUT_CODES.has(code)) return 'upstream_timeout';
  if (RESET_CODES.has(code)) return 'upstream_reset';
  // ECONNREFUSED, ENOTFOUND, EAI_AGAIN, EHOSTUNREACH, TLS verification failures, …
  return 'upstream_unreachable';
}

/** `err.code` when it is a string, else ''. Safe on any thrown value. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return '';
}

/**
 * Answers a websocket handshake that cannot be proxied with a plain HTTP error and closes the
 * socket: the client is still speaking HTTP at this point, so it deserves a status, not a reset.
 */
export function writeSocketError(socket: Duplex, code: ReasonCode, requestId: string | undefined): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = REASONS[code].status;
  const body = JSON.stringify({ error: code, message: REASONS[code].detail, request_id: requestId });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\nConnection: close\r\n\r\n' +
      body,
  );
}
