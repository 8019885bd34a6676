/**
 * The admin listener's session endpoints (`admin.sessions`): `GET /sessions?sub=SUB` lists a
 * user's sessions (summaries only: ids, times, IdP, User-Agent – never a token), `POST
 * /sessions/revoke` with `{"sub": …}` or `{"id": …}` ends them on every replica at once
 * (`src/session/session-admin.ts`).
 *
 * The same guard as the live view – a Host of localhost or an IP address, no cross-site fetch –
 * and a POST must be `application/json`, which no cross-site form can send without a preflight
 * this listener never answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Log } from '../observe/logger.ts';
import { checkTarget, type SessionAdmin, SessionAdminError } from '../session/session-admin.ts';
import { StoreUnavailableError } from '../store/store.ts';
import { liveAllowed } from './admin.ts';

/** Largest revoke body read. */
const MAX_BODY = 4096;

const HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

/** true when `path` is one of these endpoints (answered here), false to fall through. */
export async function serveAdminSessions(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  admin: SessionAdmin | undefined,
  log: Log,
): Promise<boolean> {
  if (path !== '/sessions' && path !== '/sessions/revoke') return false;
  if (admin === undefined) return json(res, 404, { error: 'not_found' });
  if (!liveAllowed(req))
    return json(res, 403, { error: 'forbidden', message: 'answers only on localhost or an IP address' });
  try {
    if (path === '/sessions') {
      if (req.method !== 'GET') return json(res, 405, { error: 'method_not_allowed' }, { allow: 'GET' });
      const sub = new URL(req.url ?? '/', 'http://admin').searchParams.get('sub');
      return json(res, 200, { sessions: await admin.list(sub ?? '') });
    }
    if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return json(res, 415, { error: 'unsupported_media_type' });
    const body = await readBody(req);
    if (body === undefined) return json(res, 413, { error: 'body_too_large' });
    let target: unknown;
    try {
      target = JSON.parse(body);
    } catch {
      return json(res, 400, { error: 'bad_target', message: 'the body must be JSON' });
    }
    const t = checkTarget(target);
    const result = await admin.revoke(t);
    log.info(
      { ...('sub' in t ? { sub: t.sub } : { session_id: t.id }), deleted: result.deleted },
      'sessions revoked',
    );
    return json(res, 200, { revoked: true, ...result });
  } catch (err) {
    if (err instanceof SessionAdminError)
      return json(res, err.code === 'not_listable' ? 409 : 400, { error: err.code, message: err.message });
    if (err instanceof StoreUnavailableError) return json(res, 503, { error: 'store_unavailable' });
    log.error({ err }, 'session admin request failed');
    return json(res, 500, { error: 'internal_error' });
  }
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): true {
  res.writeHead(status, { ...HEADERS, ...extra });
  res.end(JSON.stringify(body));
  return true;
}
