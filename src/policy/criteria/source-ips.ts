/**
 * `source_ips: [CIDR, ...]` – the client address lies in one listed block: the peer itself, or,
 * behind a proxy listed in `server.trusted_proxies`, the first untrusted `X-Forwarded-For` hop
 * (the same address the audit line's `client_ip` shows). IPv4, IPv6 and IPv4-mapped IPv6 (on
 * either side) compare as one. An unknown address (a unix-socket peer without a forwarded
 * address, `explain` without `--source-ip`) is in no block.
 */
import { createAddressMatcher } from '../../http/cidr.ts';
import { type Criterion, invalidValue } from './criterion.ts';

export function compileSourceIps(cidrs: readonly string[]): Criterion {
  const inList = createAddressMatcher(cidrs, (entry) =>
    invalidValue('source_ips', `"${entry}" is not an IP address or CIDR such as 10.0.0.0/8`),
  );
  return (_identity, request) => request !== undefined && inList(request.clientIp);
}
