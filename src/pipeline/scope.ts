/**
 * The per-request scope: what every stage reads and writes, created once by `accept`.
 * Client address, protocol, host and request id come from the socket unless the peer is a
 * trusted proxy – only then are `X-Forwarded-*` and `X-Request-Id` believed.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ReasonCode } from '../errors.ts';
import { type ClientCertificate, clientCertificateOf } from '../http/client-certificate.ts';
import type { RequestTarget } from '../http/request-target.ts';
import { clientAddress } from '../http/trusted-proxies.ts';
import type { Identity } from '../identity/identity.ts';
import type { Decision } from '../policy/compile-policy.ts';
import type { CompiledRoute } from '../policy/route-table.ts';

export interface Scope {
  readonly requestId: string;
  /** `performance.now()` at accept, ms */
  readonly startedAt: number;
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  /** host as the client addressed it (lower-case, port kept; an auth subrequest's original) */
  host: string;
  /** the method of the request decided (an edge proxy's subrequest names the original's) */
  method: string;
  target?: RequestTarget;
  route?: CompiledRoute;
  identity?: Identity;
  /** the TLS client certificate of the connection, when Gatehouse terminates TLS (RFC 8705) */
  clientCertificate?: ClientCertificate;
  /** the credential presented, for pass_access_token (never logged) */
  accessToken?: string;
  /**
   * a valid session from a provider this route does not accept: not this request's identity, but
   * who a page offering to switch providers is talking to
   */
  otherSession?: Identity;
  /** why identification failed, when a credential was presented but refused */
  authFailure?: ReasonCode;
  decision?: Decision;
  /** Set-Cookie values to send with whatever response this request gets */
  setCookies?: string[];
  /** recorded for the audit line when the pipeline answers itself */
  outcome?: { decision: 'allow' | 'deny' | 'login' | 'error'; reason: ReasonCode; status?: number };
  /** who a login endpoint just signed in or out, for the audit line */
  outcomeIdentity?: { sub: string; email?: string; idp?: string };
  /** `RateLimit*` and `Retry-After` for a request over its route's limit (respond sends them) */
  limitHeaders?: Record<string, string>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createScope(req: IncomingMessage, isTrusted: (ip: string | undefined) => boolean): Scope {
  const remote = req.socket.remoteAddress ?? '';
  const trusted = isTrusted(remote);
  const h = req.headers;
  const inboundId = trusted ? firstValue(h['x-request-id']) : undefined;
  const fwdProto = trusted
    ? firstValue(h['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase()
    : undefined;
  const fwdHost = trusted ? firstValue(h['x-forwarded-host'])?.split(',')[0]?.trim() : undefined;
  const scope = newScope({
    requestId: inboundId,
    clientIp: clientAddress(remote, h['x-forwarded-for'], isTrusted),
    proto:
      fwdProto === 'https' || fwdProto === 'http'
        ? fwdProto
        : (req.socket as TLSSocket).encrypted
          ? 'https'
          : 'http',
    host: fwdHost ?? h.host ?? '',
    method: req.method ?? 'GET',
  });
  scope.clientCertificate = clientCertificateOf(req.socket);
  return scope;
}

/** What a scope starts from: read off the request here, or off an edge proxy's description of it. */
export interface ScopeStart {
  /** an id the (trusted) peer gave; a malformed one is replaced */
  readonly requestId: string | undefined;
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  /** as received: sanitized here */
  readonly host: string;
  readonly method: string;
}

export function newScope(start: ScopeStart): Scope {
  const id = start.requestId;
  // Every field from the start, optional ones undefined: the stages that fill them in later store
  // into a fixed shape instead of growing the object one hidden-class transition at a time.
  return {
    requestId: id && REQUEST_ID.test(id) ? id : randomUUID(),
    startedAt: performance.now(),
    clientIp: start.clientIp,
    proto: start.proto,
    host: sanitizeHost(start.host),
    method: start.method,
    target: undefined,
    route: undefined,
    identity: undefined,
    clientCertificate: undefined,
    accessToken: undefined,
    otherSession: undefined,
    authFailure: undefined,
    decision: undefined,
    setCookies: undefined,
    outcome: undefined,
    outcomeIdentity: undefined,
    limitHeaders: undefined,
  };
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A Host we will echo into redirects: hostname[:port] characters only, else empty. */
function sanitizeHost(host: string): string {
  const h = host.trim().toLowerCase();
  return /^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/.test(h) && h.length <= 255 ? h : '';
}
