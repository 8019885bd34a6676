/**
 * Envoy's external authorization over gRPC (`envoy.service.auth.v3.Authorization/Check`), the
 * decision half: a `CheckRequest` describes the original request (method, host, scheme, path
 * with query, headers, the downstream address), `check` decides it as every other entry point
 * does, and the verdict becomes a `CheckResponse`:
 *
 * - allowed → status OK and an `ok_response`: each identity header with a value is set on the
 *   upstream request (overwriting a client's copy), each one without a value is removed
 *   (`headers_to_remove`), and a refreshed session's `Set-Cookie` goes back to the client
 *   (`response_headers_to_add`) – which the HTTP service mode cannot do;
 * - refused → a non-OK status and a `denied_response` with the answer `respond.ts` gives the
 *   client (302 to sign in for a browser navigation, 401 with `WWW-Authenticate`, 403, or the
 *   error's status) and its body, which Envoy sends to the client as it is.
 *
 * Only a trusted proxy may ask (`server.trusted_proxies`), as for the HTTP mode: from anyone
 * else there is no original request to decide. Objects here are the plain shapes
 * `@grpc/proto-loader` produces with `keepCase`; the server itself is `server/ext-authz-grpc.ts`.
 * @see https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/external_auth.proto
 * @see https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/attribute_context.proto
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatehouseError } from '../errors.ts';
import { parseRequestTarget } from '../http/request-target.ts';
import { errorBody } from '../http/send-error.ts';
import { clientAddress } from '../http/trusted-proxies.ts';
import { IDENTITY_HEADERS } from '../identity/headers.ts';
import { check, NO_ROUTE, type Verdict } from './check.ts';
import { hasPreflightHeaders } from './identify.ts';
import { record } from './observe.ts';
import { answerFor, EDGE_STYLE } from './respond.ts';
import type { Runtime } from './runtime.ts';
import { newScope, type Scope } from './scope.ts';

/** One header as `config.core.v3.HeaderValue`: `raw_value` when Envoy sets `encode_raw_headers`. */
interface HeaderValue {
  key?: string;
  value?: string;
  raw_value?: Uint8Array;
}

/** `AttributeContext.HttpRequest`: the original request as Envoy describes it. */
export interface HttpRequestAttributes {
  id?: string;
  method?: string;
  /** lower-case names; repeated headers joined with `,` */
  headers?: Record<string, string>;
  /** instead of `headers` when Envoy encodes raw headers */
  header_map?: { headers?: HeaderValue[] };
  /** the request target as on the request line: path and query, not decoded */
  path?: string;
  host?: string;
  scheme?: string;
}

/** The parts of `service.auth.v3.CheckRequest` a decision reads. */
export interface CheckRequest {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string } } };
    request?: { http?: HttpRequestAttributes };
  };
}

interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: 'APPEND_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS_OR_ADD';
}

/** `service.auth.v3.CheckResponse`, as proto-loader encodes it. */
export interface CheckResponse {
  status: { code: number; message?: string };
  ok_response?: {
    headers: HeaderValueOption[];
    headers_to_remove: string[];
    response_headers_to_add: HeaderValueOption[];
  };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
}

/** google.rpc.Code values: Envoy allows on OK and denies on anything else. */
const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;
const GRPC_UNAVAILABLE = 14;
const GRPC_RESOURCE_EXHAUSTED = 8;

/**
 * Decides one `CheckRequest` from `peer` – the gRPC connection's remote address, or `true` for a
 * peer on the service's own unix socket – and writes its audit line.
 */
export async function checkForEnvoy(
  request: CheckRequest,
  peer: string | true,
  rt: Runtime,
): Promise<CheckResponse> {
  const http = request.attributes?.request?.http ?? {};
  const headers = headersOf(http);
  const trusted = peer === true || rt.isTrustedProxy(peer);
  const source = request.attributes?.source?.address?.socket_address?.address;
  const scope = newScope({
    requestId: trusted ? (http.id ?? firstOf(headers['x-request-id'])) : undefined,
    // The downstream client as Envoy saw it; behind a trusted load balancer, X-Forwarded-For.
    clientIp:
      trusted && source ? clientAddress(source, headers['x-forwarded-for'], rt.isTrustedProxy) : peerIp(peer),
    proto: http.scheme === 'https' ? 'https' : 'http',
    host: trusted ? (http.host ?? firstOf(headers[':authority']) ?? '') : '',
    method: (trusted && http.method) || 'GET',
  });
  const verdict = trusted ? await decide(scope, http.path, headers, rt) : NO_ROUTE;
  const response =
    verdict.outcome === 'allow' ? allowed(scope, verdict.headers, rt) : denied(scope, verdict, headers, rt);
  record(rt, scope, verdict.outcome === 'allow' ? 200 : response.denied_response!.status.code);
  return response;
}

async function decide(
  scope: Scope,
  path: string | undefined,
  headers: IncomingHttpHeaders,
  rt: Runtime,
): Promise<Verdict> {
  if (!path) return NO_ROUTE;
  try {
    scope.target = parseRequestTarget(path);
  } catch (err) {
    return { outcome: 'error', reason: err instanceof GatehouseError ? err.code : 'bad_request' };
  }
  const dpop = Array.isArray(headers.dpop) ? headers.dpop.join(', ') : headers.dpop; // several: refused
  const preflightHeaders = hasPreflightHeaders(headers);
  return check(
    scope,
    { authorization: headers.authorization, cookie: firstOf(headers.cookie), dpop, preflightHeaders },
    rt,
  );
}

function allowed(
  scope: Scope,
  identity: Record<string, string>,
  rt: Pick<Runtime, 'assertions'>,
): CheckResponse {
  const set: HeaderValueOption[] = [];
  const remove: string[] = [];
  for (const name of [...IDENTITY_HEADERS, rt.assertions.header.toLowerCase()]) {
    const value = identity[name];
    if (value) set.push(overwrite(name, value));
    else remove.push(name); // a client's own copy must not reach the upstream
  }
  // Identity headers beyond the fixed set (none today) still reach the upstream.
  for (const [name, value] of Object.entries(identity))
    if (value && !set.some((o) => o.header.key === name)) set.push(overwrite(name, value));
  const cookies = (scope.setCookies ?? []).map((c) => append('set-cookie', c));
  return {
    status: { code: GRPC_OK },
    ok_response: { headers: set, headers_to_remove: remove, response_headers_to_add: cookies },
  };
}

function denied(scope: Scope, verdict: Verdict, headers: IncomingHttpHeaders, rt: Runtime): CheckResponse {
  const answer = answerFor(verdict, scope, rt, { method: scope.method, headers }, EDGE_STYLE);
  scope.outcome = { decision: answer.decision, reason: answer.reason, status: answer.status };
  const out: HeaderValueOption[] = [];
  for (const [name, value] of Object.entries(answer.headers))
    for (const v of Array.isArray(value) ? value : [value]) out.push(append(name, v));
  let body = '';
  if (answer.body) {
    const error = errorBody(
      firstOf(headers.accept),
      answer.status,
      answer.bodyCode,
      scope.requestId,
      {},
      answer.signInUrl,
    );
    for (const [name, value] of Object.entries(error.headers)) out.push(overwrite(name, value));
    body = error.body;
  } else out.push(overwrite('cache-control', 'no-store'));
  out.push(overwrite('x-request-id', scope.requestId));
  return {
    status: { code: grpcCode(answer.status), message: answer.reason },
    denied_response: { status: { code: answer.status }, headers: out, body },
  };
}

function grpcCode(status: number): number {
  if (status === 401) return GRPC_UNAUTHENTICATED;
  if (status === 429) return GRPC_RESOURCE_EXHAUSTED;
  if (status >= 500) return GRPC_UNAVAILABLE;
  return GRPC_PERMISSION_DENIED;
}

function overwrite(key: string, value: string): HeaderValueOption {
  return { header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}
function append(key: string, value: string): HeaderValueOption {
  return { header: { key, value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' };
}

/**
 * The original request's headers with node's shape: lower-case names, one string each, except
 * a repeated `Authorization`, which stays a list so `identify` refuses it (as on a socket).
 * Envoy gives either the `headers` map or, with `encode_raw_headers`, the `header_map` list.
 */
export function headersOf(http: HttpRequestAttributes): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  const list = http.header_map?.headers;
  if (list && list.length > 0) {
    for (const h of list) {
      if (!h.key) continue;
      const name = h.key.toLowerCase();
      const value =
        h.raw_value && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('latin1') : (h.value ?? '');
      const seen = out[name];
      if (seen === undefined) out[name] = value;
      else if (name === 'authorization') out[name] = [...(Array.isArray(seen) ? seen : [seen]), value];
      else out[name] = `${seen}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
    return out as IncomingHttpHeaders; // `authorization` may be a list, as `headersDistinct` has it
  }
  for (const [name, value] of Object.entries(http.headers ?? {})) out[name.toLowerCase()] = value;
  return out as IncomingHttpHeaders;
}

function peerIp(peer: string | true): string {
  return peer === true ? '' : peer;
}

function firstOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
