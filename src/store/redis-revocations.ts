/**
 * The revocation set on Redis: one sorted set, `gatehouse:revoked` (member = the entry's key,
 * score = the epoch second it may be forgotten), announced on the channel of the same name.
 * These are the steps `./redis-store.ts` runs; each takes the client it talks through, so the
 * store decides when they run and what a failure means.
 */
import type { Log } from '../observe/logger.ts';
import { entryKey, parseEntry, type RevocationEntry, type RevocationView } from './revocation-view.ts';

export const REVOKED = 'gatehouse:revoked';
/** Most entries written back per command. */
const WRITE_BACK_BATCH = 500;

/** Add one entry, drop expired ones, announce it: one atomic round trip. */
const REVOKE_SCRIPT = `redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('PUBLISH', KEYS[1], ARGV[4])
return 1`;

/** What these steps need of a node-redis client. */
export interface Commands {
  sendCommand<T>(args: string[]): Promise<T>;
}

/** An announcement: one entry, or a batch (a replica writing back after an outage). */
type Announced = { m: string; u: number };

const announced = (e: RevocationEntry): Announced => ({ m: entryKey(e), u: e.until });

/** Subscription feed: apply one announcement to the local view; a malformed one is skipped. */
export function applyAnnouncement(view: RevocationView, message: string, log: Log): void {
  try {
    const parsed = JSON.parse(message) as Announced | Announced[];
    for (const { m, u } of Array.isArray(parsed) ? parsed : [parsed]) {
      const entry = parseEntry(m, u);
      if (entry) view.add(entry);
    }
  } catch {
    log.warn({}, 'ignored a malformed revocation announcement');
  }
}

/**
 * Initial sync: every unexpired entry of the set into the local view.
 * @returns the members Redis holds, for {@link writeBack}
 */
export async function loadRevocations(client: Commands, view: RevocationView): Promise<Set<string>> {
  const now = Math.floor(Date.now() / 1000);
  const reply = await client.sendCommand<unknown[]>([
    'ZRANGE',
    REVOKED,
    String(now),
    '+inf',
    'BYSCORE',
    'WITHSCORES',
  ]);
  const remote = new Set<string>();
  for (const [member, score] of pairs(reply)) {
    const entry = parseEntry(member, score);
    if (entry) {
      view.add(entry);
      remote.add(member);
    }
  }
  return remote;
}

/**
 * Write-back after an outage: what this replica knows and Redis does not (revoked while Redis
 * was away, or Redis lost its data) goes back into the set (`ZADD GT`: a later expiry wins), and
 * is announced, so replicas that resynchronised before this write-back learn of it too.
 * @returns how many entries were written back
 */
export async function writeBack(
  client: Commands,
  view: RevocationView,
  remote: Set<string>,
): Promise<number> {
  const missing = view.entries().filter((e) => !remote.has(entryKey(e)));
  for (let i = 0; i < missing.length; i += WRITE_BACK_BATCH) {
    const batch = missing.slice(i, i + WRITE_BACK_BATCH);
    const args = ['ZADD', REVOKED, 'GT'];
    for (const e of batch) args.push(String(e.until), entryKey(e));
    await client.sendCommand(args);
    await client.sendCommand(['PUBLISH', REVOKED, JSON.stringify(batch.map(announced))]);
  }
  return missing.length;
}

/** The command that adds `entry` to the set and announces it (see {@link REVOKE_SCRIPT}). */
export function revokeCommand(entry: RevocationEntry): string[] {
  const now = Math.floor(Date.now() / 1000);
  return [
    'EVAL',
    REVOKE_SCRIPT,
    '1',
    REVOKED,
    String(entry.until),
    entryKey(entry),
    String(now),
    JSON.stringify(announced(entry)),
  ];
}

/** `ZRANGE … WITHSCORES` as (member, score) pairs: RESP3 nests them, RESP2 is flat. */
function pairs(reply: unknown[]): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  if (reply.length > 0 && Array.isArray(reply[0])) {
    for (const pair of reply as unknown[][]) out.push([String(pair[0]), Number(pair[1])]);
  } else {
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), Number(reply[i + 1])]);
  }
  return out;
}
