/**
 * `gatehouse sessions list --sub SUB` and `gatehouse sessions revoke --sub SUB | --id ID`:
 * the session admin (`src/session/session-admin.ts`) against the config's shared store, from
 * any host that reaches it. A revocation reaches every replica at once. `store: memory` lives
 * inside the running process, out of this command's reach: the message points to the admin
 * endpoint instead. Exit 0 done, 1 config, store or storage problem, 2 bad arguments.
 */
import { loadConfig } from '../config/load.ts';
import { ConfigError } from '../errors.ts';
import { silentLog } from '../observe/logger.ts';
import { createSessionAdmin, SessionAdminError } from '../session/session-admin.ts';
import { createRedisStore, redactRedisUrl } from '../store/redis-store.ts';
import type { SessionSummary } from '../store/store.ts';

/** How long the command waits for the store before giving up. */
const CONNECT_MS = 5000;

export interface SessionsArgs {
  action: string | undefined;
  sub?: string | undefined;
  id?: string | undefined;
  json: boolean;
}

export async function runSessions(configFile: string, args: SessionsArgs): Promise<number> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`gatehouse sessions: ${message}\n`);
    return code;
  };
  if (args.action !== 'list' && args.action !== 'revoke') return fail(2, 'use "list" or "revoke"');
  if (args.action === 'list' && (args.sub === undefined || args.id !== undefined))
    return fail(2, 'list needs --sub SUB');
  if (args.action === 'revoke' && (args.sub === undefined) === (args.id === undefined))
    return fail(2, 'revoke needs exactly one of --sub SUB or --id ID');
  let config: Awaited<ReturnType<typeof loadConfig>>['config'];
  try {
    ({ config } = await loadConfig(configFile));
  } catch (err) {
    if (err instanceof ConfigError) return fail(1, err.message);
    throw err;
  }
  if (!config.session) return fail(1, 'the config has no session section: there are no sessions');
  if (config.store === 'memory')
    return fail(
      1,
      'store: memory lives inside the running Gatehouse; use its admin listener instead ' +
        '(GET /sessions?sub=SUB, POST /sessions/revoke), or configure a redis:// store',
    );
  const store = createRedisStore({ url: config.store, log: silentLog });
  try {
    if (!(await store.whenSynced(CONNECT_MS)))
      return fail(1, `the store at ${redactRedisUrl(config.store)} did not answer within ${CONNECT_MS} ms`);
    const admin = createSessionAdmin(config, store);
    if (args.action === 'list') {
      const sessions = await admin.list(args.sub!);
      process.stdout.write(args.json ? `${JSON.stringify({ sessions })}\n` : formatList(sessions));
      return 0;
    }
    const target = args.sub !== undefined ? { sub: args.sub } : { id: args.id! };
    const { deleted } = await admin.revoke(target);
    const what = 'sub' in target ? `every session of ${target.sub}` : `session ${target.id}`;
    const records = config.session.storage === 'store' ? ` (${deleted} stored session(s) deleted)` : '';
    process.stdout.write(
      args.json ? `${JSON.stringify({ revoked: true, deleted })}\n` : `revoked ${what}${records}\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof SessionAdminError) return fail(err.code === 'bad_target' ? 2 : 1, err.message);
    return fail(1, err instanceof Error ? err.message : String(err));
  } finally {
    await store.close();
  }
}

function formatList(sessions: SessionSummary[]): string {
  if (sessions.length === 0) return 'no sessions\n';
  const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  const rows = sessions.map((s) =>
    [s.id, s.idp ?? '-', iso(s.createdAt), iso(s.lastSeenAt), s.userAgent ?? '-'].join('  '),
  );
  return `${['ID', 'IDP', 'CREATED', 'LAST SEEN', 'USER AGENT'].join('  ')}\n${rows.join('\n')}\n`;
}
