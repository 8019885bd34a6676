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
import { BlockList, isIP } from 'node:net';

/** Peer addresses whose trust is remembered at most (see createTrustedProxies). */
const MAX_REMEMBERED = 1024;

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** `::ffff:10.0.0.1` (a dual-stack socket's view of an IPv4 peer) → `10.0.0.1`. */
function unmap(address: string): string {
  // Only a name starting with ':' can be mapped: a plain IPv4 peer skips the regex.
  if (address.charCodeAt(0) !== 58) return address;
  const m = MAPPED_V4.exec(address);
  return m ? m[1]! : address;
}

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
  const list = new BlockList();
  let unix = false;
  for (const entry of cidrs) {
    if (entry === 'unix') {
      unix = true;
      continue;
    }
    const slash = entry.indexOf('/');
    const address = unmap(slash === -1 ? entry : entry.slice(0, slash));
    const family = isIP(address);
    if (family === 0) throw invalid(entry);
    const max = family === 4 ? 32 : 128;
    const prefix = slash === -1 ? max : Number(entry.slice(slash + 1));
    if (
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > max ||
      (slash !== -1 && !/^\d+$/.test(entry.slice(slash + 1)))
    ) {
      throw invalid(entry);
    }
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  // BlockList#check costs a few hundred ns and is asked up to three times per request about the
  // same few peers: answers are remembered, in a map emptied whenever it fills (bounded).
  const known = new Map<string, boolean>();
  return (remoteAddress) => {
    if (remoteAddress === undefined || remoteAddress === '') return unix;
    if (typeof remoteAddress !== 'string') return false;
    let trusted = known.get(remoteAddress);
    if (trusted === undefined) {
      const address = unmap(remoteAddress);
      const family = isIP(address);
      trusted = family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
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
