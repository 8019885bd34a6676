/**
 * Which peers may speak for the client: `X-Forwarded-*` from anyone else is a forgery, because
 * any client can send the headers. `server.trusted_proxies` lists the CIDRs of the load
 * balancers in front of Gatehouse, and `unix` when nginx or Caddy reaches it over the unix socket
 * of `server.listen: unix:/…`.
 *
 * A unix socket peer has no address: node reports `remoteAddress` undefined (scope passes `''`).
 * So it is trusted only when `unix` is listed – never by default, since anyone who may open the
 * socket file (see `server.socket_mode`) could then forge `X-Forwarded-*` – and the config
 * accepts `unix` only with a unix listener, where "no address" always means a unix peer.
 */
import { isIP } from 'node:net';
import { createAddressMatcher, unmapIPv4 as unmap } from './cidr.ts';

/** Peer addresses whose trust is remembered at most (see createTrustedProxies). */
const MAX_REMEMBERED = 1024;

function invalid(cidr: string): TypeError {
  return Object.assign(new TypeError(`trusted proxy "${cidr}" is not an IP address or CIDR`), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
}

/**
 * A predicate over a socket's `remoteAddress`: true when it lies in one of `cidrs`
 * (`10.0.0.0/8`, `::1/128`, or a bare address). Undefined or empty addresses (a unix socket
 * peer) are trusted only when `unix` is listed; malformed ones never.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) naming the first malformed entry.
 */
export function createTrustedProxies(
  cidrs: readonly string[],
): (remoteAddress: string | undefined) => boolean {
  if (cidrs.length === 0) return () => false;
  const unix = cidrs.includes('unix');
  const inList = createAddressMatcher(
    cidrs.filter((c) => c !== 'unix'),
    invalid,
  );
  // BlockList#check costs a few hundred ns and is asked up to three times per request about the
  // same few peers: answers are remembered, in a map emptied whenever it fills (bounded).
  const known = new Map<string, boolean>();
  return (remoteAddress) => {
    if (remoteAddress === undefined || remoteAddress === '') return unix;
    if (typeof remoteAddress !== 'string') return false;
    let trusted = known.get(remoteAddress);
    if (trusted === undefined) {
      trusted = inList(remoteAddress);
      if (remoteAddress.length <= 64) {
        if (known.size >= MAX_REMEMBERED) known.clear();
        known.set(remoteAddress, trusted);
      }
    }
    return trusted;
  };
}

/**
 * The client's address: the peer itself, unless the peer is trusted, in which case the
 * `X-Forwarded-For` chain is walked from the right past every trusted hop; the first untrusted
 * entry is the client. A malformed entry stops the walk (the hop that wrote it is the client).
 */
export function clientAddress(
  remoteAddress: string | undefined,
  xForwardedFor: string | string[] | undefined,
  isTrusted: (remoteAddress: string | undefined) => boolean,
): string {
  const peer = remoteAddress ? unmap(remoteAddress) : '';
  if (!isTrusted(remoteAddress) || xForwardedFor === undefined) return peer;
  const chain = (Array.isArray(xForwardedFor) ? xForwardedFor.join(',') : xForwardedFor).split(',');
  let client = peer;
  // Bounded by the header size limit; each step consumes one entry.
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = unmap(chain[i]!.trim());
    if (isIP(hop) === 0) break;
    client = hop;
    if (!isTrusted(hop)) break;
  }
  return client;
}
