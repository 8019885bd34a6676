/**
 * The URL the client asked for, as Gatehouse reconstructs it: protocol and host as `accept`
 * believed them (forwarded ones only from trusted proxies) and the normalized target. Used as
 * the post-login return target and in request-bound assertions.
 */
import type { RequestTarget } from './request-target.ts';

export function originalUrl(req: {
  readonly proto: string;
  readonly host: string;
  readonly target?: RequestTarget;
}): string {
  const t = req.target;
  return `${req.proto}://${req.host}${t ? t.path + t.search : '/'}`;
}
