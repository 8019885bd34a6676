/**
 * `{prefix}/userinfo`: the caller's identity as Gatehouse sees it – the first thing to check
 * when someone asks "why am I denied": their groups and mapped roles. 401 without one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from '../http/send-error.ts';
import type { Runtime } from '../server/runtime.ts';
import { identify } from './identify.ts';
import { wwwAuthenticate } from './respond-denied.ts';
import type { Scope } from './scope.ts';

const ANY_CREDENTIAL = { auth: ['bearer', 'session'] } as const;

export async function serveUserinfo(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
): Promise<void> {
  await identify(req, scope, rt, ANY_CREDENTIAL);
  const id = scope.identity;
  const cookies = scope.setCookies ? { 'set-cookie': scope.setCookies } : undefined;
  if (!id) {
    const reason = scope.authFailure ?? 'no_credentials';
    scope.outcome = { decision: 'login', reason, status: 401 };
    sendError(req, res, 'no_credentials', {
      requestId: scope.requestId,
      headers: { 'www-authenticate': wwwAuthenticate(reason, false), ...cookies },
    });
    return;
  }
  scope.outcome = { decision: 'allow', reason: 'policy_allowed', status: 200 };
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...cookies });
  res.end(
    JSON.stringify({
      sub: id.sub,
      iss: id.iss,
      idp: id.idp,
      email: id.email,
      preferred_username: id.preferredUsername,
      name: id.name,
      groups: id.groups,
      roles: id.roles,
      groups_overage: id.groupsOverage,
      auth_type: id.authType,
      client_id: id.clientId,
      expires_at: id.expiresAt,
    }),
  );
}
