/**
 * Hop-by-hop headers describe one connection, not the message: a proxy that forwards them lets
 * a client steer the next hop (e.g. `Connection: X-Forwarded-For` asking it to drop a header the
 * proxy set, or a stray `Upgrade` turning a request into a tunnel).
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */

/** Always connection-scoped. `transfer-encoding` is left to node on the request side. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Headers a `Connection` token may not remove: message framing and the target host. Dropping
 * `content-length` from a request with a body would change how the next hop frames it.
 */
const FRAMING: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host']);

const NO_TOKENS: ReadonlySet<string> = new Set();
/** The `Connection` values nearly every message carries, answered without a split. */
const COMMON_TOKENS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  ['keep-alive', 'Keep-Alive', 'close', 'Close', 'upgrade', 'Upgrade'].map((v) => [
    v,
    new Set([v.toLowerCase()]),
  ]),
);

/** Lower-cased names listed in `Connection` (comma-separated tokens, possibly repeated). */
export function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return NO_TOKENS;
  if (typeof value === 'string') {
    const common = COMMON_TOKENS.get(value);
    if (common !== undefined) return common;
  }
  const tokens = new Set<string>();
  const joined = Array.isArray(value) ? value.join(',') : value;
  for (const part of joined.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '' && !FRAMING.has(token)) tokens.add(token);
  }
  return tokens;
}

/**
 * True when `name` (lower-case) must not be forwarded: hop-by-hop, or listed in `Connection`.
 * `keepUpgrade` keeps `upgrade` for a websocket handshake; `keepTransferEncoding` leaves it for
 * node to re-frame a request body.
 */
export function isHopByHop(
  name: string,
  listed: ReadonlySet<string>,
  opts: { keepUpgrade?: boolean; keepTransferEncoding?: boolean } = {},
): boolean {
  if (name === 'upgrade' && opts.keepUpgrade) return false;
  if (name === 'transfer-encoding' && opts.keepTransferEncoding) return false;
  return HOP_BY_HOP.has(name) || listed.has(name);
}
