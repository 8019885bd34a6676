/**
 * observe: when the response is done, one audit line and the request counter. Registered first,
 * so every request – endpoint, error, proxied – is accounted for exactly once.
 */
import type { ServerResponse } from 'node:http';
import type { AuditEntry } from '../observe/audit.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

export function observe(res: ServerResponse, scope: Scope, rt: Runtime): void {
  // 'close' comes on a nextTick after the response ends, which is before the promise jobs that
  // let a stage record its outcome when it answered without awaiting anything (a refused
  // /start, an early callback refusal): read the scope once those have run (issue-10).
  // No answer went out: the status the stage that knows recorded (a client that left while the
  // upstream was answering is nginx's 499), else 0.
  res.once('close', () =>
    setImmediate(() => record(rt, scope, res.headersSent ? res.statusCode : (scope.outcome?.status ?? 0))),
  );
}

/** One audit line and the request counter for a finished request (or websocket handshake). */
export function record(rt: Runtime, scope: Scope, status: number): void {
  const d = scope.decision;
  const outcome = scope.outcome ?? {
    decision: d ? d.outcome : ('allow' as const),
    reason: d ? d.reason : ('public_route' as const),
  };
  const route = scope.route?.name ?? (scope.outcome ? '(gatehouse)' : '(none)');
  rt.metrics.requests.inc({ route, decision: outcome.decision });
  const entry: AuditEntry = {
    request_id: scope.requestId,
    route: scope.route?.name,
    method: scope.method,
    host: scope.host,
    path: scope.target?.path ?? '(unparsed)',
    client_ip: scope.clientIp,
    sub: scope.identity?.sub ?? scope.outcomeIdentity?.sub,
    email: scope.identity?.email ?? scope.outcomeIdentity?.email,
    idp: scope.identity?.idp ?? scope.outcomeIdentity?.idp,
    auth_type: scope.identity?.binding ?? scope.identity?.authType,
    decision: outcome.decision,
    reason: outcome.reason,
    rule: d?.rule,
    dry_run: d?.dryRun || undefined,
    status,
    duration_ms: performance.now() - scope.startedAt,
  };
  rt.audit.write(entry);
  // The live view keeps the same object (no copy): one array store per request.
  rt.recent?.push(entry);
}
