/**
 * The request pipeline, top to bottom. Each stage is a small function with one job; the order
 * here is the architecture (DESIGN.md "Request pipeline"):
 *
 *   accept → observe (armed first, so every answer is accounted for) → parse target
 *          → public host (a browser on another name for this listener goes to public_url)
 *          → endpoints ({prefix}/…, each calling `check` itself where it decides)
 *          → resource metadata (RFC 9728, for routes that take bearer tokens)
 *          → check: route → identify/refresh → authorize → rate limit → identity headers
 *          → respond (login / 401 / 403 / error) or forward upstream
 *
 * Every entry point (this one, websocket upgrades, `{prefix}/auth`, `{prefix}/userinfo`) decides
 * with `check` and answers a non-allow verdict with `respond`; nothing else maps decisions to
 * answers. The runtime `rt` is captured once per request, so a config reload that swaps it never
 * changes the rules under a request already in flight.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '../errors.ts';
import { parseRequestTarget } from '../http/request-target.ts';
import { check, errorVerdict, type Verdict } from './check.ts';
import { endpointName, serveEndpoint } from './endpoints.ts';
import { forward, forwardUpgrade } from './forward.ts';
import { credentialsOf } from './identify.ts';
import { observe, record } from './observe.ts';
import { checkPublicHost } from './public-host.ts';
import { serveResourceMetadata } from './resource-metadata.ts';
import { PROXY_STYLE, respond, respondOnSocket } from './respond.ts';
import type { Runtime } from './runtime.ts';
import { createScope, type Scope } from './scope.ts';

export async function handleRequest(req: IncomingMessage, res: ServerResponse, rt: Runtime): Promise<void> {
  const scope = createScope(req, rt.isTrustedProxy); // accept
  res.setHeader('x-request-id', scope.requestId);
  observe(res, scope, rt);
  const malformed = parse(req, scope);
  if (malformed !== undefined) return respond(req, res, scope, malformed, rt, PROXY_STYLE);

  const endpoint = endpointName(scope.target!.path, rt.prefix);
  const misdirected = checkPublicHost(req, scope, rt, endpoint); // public host
  if (misdirected !== undefined) return respond(req, res, scope, misdirected, rt, PROXY_STYLE);
  if (endpoint !== undefined) {
    // {prefix}/… served by Gatehouse itself
    try {
      return await serveEndpoint(req, res, scope, rt, endpoint);
    } catch (err) {
      return respond(req, res, scope, errorVerdict(scope, err, rt), rt, PROXY_STYLE);
    }
  }

  if (serveResourceMetadata(req, res, scope, rt)) return; // RFC 9728 metadata of a bearer route

  const verdict = await check(scope, credentialsOf(req), rt);
  if (verdict.outcome !== 'allow') return respond(req, res, scope, verdict, rt, PROXY_STYLE);
  forward(req, res, scope, verdict.headers, rt);
}

/** WebSocket upgrades pass the same route and policy checks before the socket is handed on. */
export async function handleUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  rt: Runtime,
): Promise<void> {
  const scope = createScope(req, rt.isTrustedProxy);
  socket.on('error', () => socket.destroy());
  const failed = parse(req, scope);
  const verdict = failed ?? (await check(scope, credentialsOf(req), rt));
  if (verdict.outcome !== 'allow') {
    record(rt, scope, respondOnSocket(socket, scope, verdict, req));
    return;
  }
  // The audit line is written when the handshake is answered (101, or the upstream's refusal).
  forwardUpgrade(req, socket, head, scope, verdict.headers, rt, (status) => record(rt, scope, status));
}

/** parse target: once, into the form routing, policy and the upstream read; a bad one is an error verdict. */
function parse(req: IncomingMessage, scope: Scope): Verdict | undefined {
  try {
    scope.target = parseRequestTarget(req.url);
    return undefined;
  } catch (err) {
    return { outcome: 'error', reason: err instanceof GatehouseError ? err.code : 'bad_request' };
  }
}
