/**
 * `{prefix}/userinfo`: the caller's identity as Gatehouse sees it – the first thing to check
 * when someone asks "why am I denied": their groups and mapped roles. Any credential kind from
 * any provider; 401 without one. JSON, or a readable page for a browser (`Accept: text/html`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { prefersHtml } from '../http/send-error.ts';
import { DEFAULT_PAGES } from '../pages/pages.ts';
import type { CompiledPolicy, Decision } from '../policy/compile-policy.ts';
import { check, type Guard } from './check.ts';
import { credentialsOf } from './identify.ts';
import { API_STYLE, respond } from './respond.ts';
import type { Runtime } from './runtime.ts';
import type { Scope } from './scope.ts';

const decision = (outcome: 'allow' | 'login', reason: Decision['reason']): Decision =>
  Object.freeze({ outcome, reason, dryRun: false, enforcedOutcome: outcome });
const SIGNED_IN = decision('allow', 'policy_allowed');
const ANONYMOUS = decision('login', 'no_credentials');
const ANY_IDENTITY: CompiledPolicy = { isPublic: false, decide: (id) => (id ? SIGNED_IN : ANONYMOUS) };
const USERINFO: Guard = { accepts: { auth: ['bearer', 'session'] }, policy: ANY_IDENTITY };

export async function serveUserinfo(
  req: IncomingMessage,
  res: ServerResponse,
  scope: Scope,
  rt: Runtime,
): Promise<void> {
  const verdict = await check(scope, credentialsOf(req), rt, { guard: USERINFO });
  const id = scope.identity;
  if (verdict.outcome !== 'allow' || !id) return respond(req, res, scope, verdict, rt, API_STYLE);
  scope.outcome = { decision: 'allow', reason: 'policy_allowed', status: 200 };
  const cookies = scope.setCookies ? { 'set-cookie': scope.setCookies } : undefined;
  if (prefersHtml(req.headers.accept)) {
    // A person looking at their own identity: the same fields as a readable page.
    const pages = rt.pages ?? DEFAULT_PAGES;
    const page = pages.userinfo(id, scope.requestId);
    res.writeHead(200, { ...pages.headers, 'content-length': Buffer.byteLength(page), ...cookies });
    res.end(req.method === 'HEAD' ? undefined : page);
    return;
  }
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
