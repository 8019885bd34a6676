/**
 * A criterion is one condition of a rule (`roles`, `email_domains`, …) compiled once, at
 * config load, into a predicate over an identity: config values become Sets and closures so
 * a request costs a few look-ups. One criterion per file, each with its own matching rules.
 */
import type { ClientCertificate } from '../../http/client-certificate.ts';
import type { Identity } from '../../identity/identity.ts';

/**
 * What a rule may ask about the request rather than the caller. The pipeline passes its
 * per-request scope itself (it has these fields), so deciding allocates nothing.
 */
export interface RequestFacts {
  /** the client address after `server.trusted_proxies`; empty when unknown (matches no block) */
  readonly clientIp: string;
  /** the connection's TLS client certificate, when Gatehouse terminates TLS */
  readonly clientCertificate?: ClientCertificate;
}

/** The request of a decision made without one (an unknown address matches no `source_ips`). */
export const NO_REQUEST: RequestFacts = Object.freeze({ clientIp: '' });

/** `request` absent: a decision about the caller alone (its address is unknown). */
export type Criterion = (identity: Identity, request?: RequestFacts) => boolean;

/** A config value a criterion cannot honour exactly is refused at load, never ignored. */
export function invalidValue(key: string, message: string): TypeError {
  return Object.assign(new TypeError(`${key}: ${message}`), { code: 'ERR_INVALID_ARG_VALUE' });
}

/** True when any of `values` is in `accepted` (exact, case-sensitive). */
export function anyIn(values: readonly string[], accepted: ReadonlySet<string>): boolean {
  for (let i = 0; i < values.length; i++) if (accepted.has(values[i]!)) return true;
  return false;
}
