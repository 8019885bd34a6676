/**
 * IP addresses and CIDR blocks as the config writes them (`10.0.0.0/8`, `2001:db8::/32`, a bare
 * address), for `server.trusted_proxies` and the `source_ips:` policy key alike, so both read
 * the same notation the same way.
 *
 * A dual-stack socket reports an IPv4 peer as `::ffff:10.0.0.1`: such IPv4-mapped IPv6
 * addresses are turned into plain IPv4 on both sides (the peer and the config), so
 * `10.0.0.0/8` matches `::ffff:10.0.0.1` and `::ffff:10.0.0.0/104` matches `10.0.0.1`.
 */
import { BlockList, isIP } from 'node:net';

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** `::ffff:10.0.0.1` (a dual-stack socket's view of an IPv4 peer) → `10.0.0.1`. */
export function unmapIPv4(address: string): string {
  // Only a name starting with ':' can be mapped: a plain IPv4 peer skips the regex.
  if (address.charCodeAt(0) !== 58) return address;
  const m = MAPPED_V4.exec(address);
  return m ? m[1]! : address;
}

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/**
 * One address or CIDR, or undefined when malformed (a bad address, a prefix out of range or
 * not plain digits). An IPv4-mapped block becomes the IPv4 block it covers.
 */
export function parseCidr(entry: string): Cidr | undefined {
  const slash = entry.indexOf('/');
  const written = slash === -1 ? entry : entry.slice(0, slash);
  const address = unmapIPv4(written);
  const mapped = address !== written;
  const family = isIP(address);
  if (family === 0) return undefined;
  const digits = slash === -1 ? undefined : entry.slice(slash + 1);
  if (digits !== undefined && !/^\d{1,3}$/.test(digits)) return undefined;
  const max = mapped ? 128 : family === 4 ? 32 : 128;
  let prefix = digits === undefined ? max : Number(digits);
  if (prefix > max) return undefined;
  if (mapped) {
    // `::ffff:a.b.c.d/N` covers IPv4 addresses only when N keeps the ::ffff: part (N ≥ 96).
    if (prefix < 96) return undefined;
    prefix -= 96;
  }
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * A predicate over addresses: true when one lies in any of `cidrs`. An address that is not an
 * IP (empty, a unix peer, garbage, a zone id node cannot check) is in none.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) from `invalid` for the first malformed entry
 */
export function createAddressMatcher(
  cidrs: readonly string[],
  invalid: (entry: string) => TypeError,
): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of cidrs) {
    const cidr = parseCidr(entry);
    if (cidr === undefined) throw invalid(entry);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return (raw) => {
    const address = unmapIPv4(raw);
    const family = isIP(address);
    if (family === 0) return false;
    try {
      return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    } catch {
      return false; // e.g. a scoped address `fe80::1%eth0`
    }
  };
}
