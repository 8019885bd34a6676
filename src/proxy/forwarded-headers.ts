/**
 * The head of the upstream request: inbound headers minus hop-by-hop and minus every header a
 * client could use to lie about where the request came from or what it asks for, plus the
 * `X-Forwarded-*` set Gatehouse vouches for.
 *
 * Names are compared after folding `_` into `-`, because CGI/WSGI/PHP and nginx with
 * `underscores_in_headers on` read `X_Forwarded_For` as `X-Forwarded-For`.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { connectionTokens, isHopByHop } from './hop-by-hop.ts';

/** Set by Gatehouse on every upstream request; inbound copies are dropped first. */
const MANAGED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'x-request-id'];

/**
 * Never forwarded, never set: each lets a client override the client address, scheme, method or
 * path that some framework reads instead of the real one (`X-Original-URL` and `X-Rewrite-URL`
 * route Symfony/IIS to another path; `X-HTTP-Method-Override` changes the method after the
 * route's `methods` were checked). `Expect` was already answered by node's server.
 */
export const SPOOFABLE_HEADERS: readonly string[] = Object.freeze([
  'forwarded',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-forwarded-uri',
  'x-forwarded-path',
  'x-forwarded-ssl',
  'x-forwarded-scheme',
  'x-forwarded',
  'forwarded-for',
  'x-original-url',
  'x-original-uri',
  'x-original-method',
  'x-original-host',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'x-host',
  'x-url-scheme',
  'front-end-https',
  'expect',
]);

const DROPPED: ReadonlySet<string> = new Set([...MANAGED, ...SPOOFABLE_HEADERS]);

/** `isHopByHop` options, made once: a request keeps its framing, a websocket its `Upgrade`. */
const KEEP_FRAMING = Object.freeze({ keepUpgrade: false, keepTransferEncoding: true });
const KEEP_UPGRADE = Object.freeze({ keepUpgrade: true, keepTransferEncoding: true });

export interface ForwardedInfo {
  /** the client address, resolved by the caller through trusted proxies */
  clientIp: string;
  /** the socket peer (the last hop); '' over a unix socket, which has no address */
  peerIp: string;
  /** the peer is a trusted proxy: its `X-Forwarded-For` chain is kept and extended */
  trustedPeer: boolean;
  proto: 'http' | 'https';
  /** the host the client asked for */
  host: string;
  requestId: string;
  /** a websocket handshake keeps `Upgrade` and sends `Connection: upgrade` */
  websocket: boolean;
}

/**
 * A fresh header object for the upstream request. `inbound` is `req.headers` after the caller
 * stripped inbound identity headers; `extra` (identity headers) is applied last and wins.
 */
export function buildUpstreamHeaders(
  inbound: IncomingHttpHeaders,
  info: ForwardedInfo,
  extra: Readonly<Record<string, string>>,
): OutgoingHttpHeaders {
  const listed = connectionTokens(inbound.connection);
  const hopOpts = info.websocket ? KEEP_UPGRADE : KEEP_FRAMING;
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(inbound)) {
    const value = inbound[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (isHopByHop(lower, listed, hopOpts)) continue;
    const folded = lower.includes('_') ? lower.replaceAll('_', '-') : lower;
    if (DROPPED.has(folded) || (folded !== lower && isHopByHop(folded, listed, hopOpts))) continue;
    out[lower] = value;
  }
  const inboundChain = info.trustedPeer ? joinChain(inbound['x-forwarded-for']) : '';
  // A unix-socket peer has no address: there is no hop to add, and with no client address at
  // all (an untrusted unix peer) the upstream is told nothing rather than an empty value.
  const hop = info.peerIp;
  const chain = inboundChain ? (hop ? `${inboundChain}, ${hop}` : inboundChain) : info.clientIp;
  if (chain) out['x-forwarded-for'] = chain;
  if (info.clientIp) out['x-real-ip'] = info.clientIp;
  out['x-forwarded-proto'] = info.proto;
  out['x-forwarded-host'] = info.host;
  out['x-request-id'] = info.requestId;
  out.host = info.host;
  if (info.websocket) out.connection = 'upgrade';
  for (const name of Object.keys(extra)) out[name.toLowerCase()] = extra[name];
  return out;
}

function joinChain(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return (Array.isArray(value) ? value.join(', ') : value).trim();
}
