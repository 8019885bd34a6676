/**
 * Session records on Redis (`./session-records.ts`): `gatehouse:session:<id>` holds a blob
 * with its own expiry (`SET … PX`), and `gatehouse:sessions:<sub>` is a hash of the subject's
 * record ids to their summaries, kept for the longest a session can live. Listing prunes the
 * index entries whose record has expired.
 */
import type { Send } from './redis-refresh.ts';
import { parseSummary, type SessionRecords, type SessionSummary } from './session-records.ts';

const RECORD = 'gatehouse:session:';
const INDEX = 'gatehouse:sessions:';
/** Most index entries looked at per listing (a subject with more is an attack or a bug). */
const MAX_LISTED = 1000;

export class RedisSessionRecords implements SessionRecords {
  readonly #send: Send;

  constructor(send: Send) {
    this.#send = send;
  }

  async get(id: string): Promise<string | undefined> {
    const reply = await this.#send<string | null>('session', ['GET', RECORD + id]);
    return typeof reply === 'string' ? reply : undefined;
  }

  async put(id: string, blob: string, ttlMs: number, summary: SessionSummary, indexTtlMs: number) {
    const px = (ms: number) => String(Math.max(1, Math.ceil(ms)));
    await this.#send('session', ['SET', RECORD + id, blob, 'PX', px(ttlMs)]);
    await this.#send('session', ['HSET', INDEX + summary.sub, id, JSON.stringify(summary)]);
    await this.#send('session', ['PEXPIRE', INDEX + summary.sub, px(indexTtlMs)]);
  }

  async delete(id: string, sub?: string): Promise<void> {
    await this.#send('session', ['DEL', RECORD + id]);
    if (sub !== undefined) await this.#send('session', ['HDEL', INDEX + sub, id]);
  }

  async list(sub: string): Promise<SessionSummary[]> {
    const reply = await this.#send<unknown>('session', ['HGETALL', INDEX + sub]);
    const out: SessionSummary[] = [];
    const gone: string[] = [];
    for (const [id, text] of fieldPairs(reply).slice(0, MAX_LISTED)) {
      const summary = parseSummary(text);
      const exists = await this.#send<number>('session', ['EXISTS', RECORD + id]);
      if (summary && summary.id === id && exists === 1) out.push(summary);
      else gone.push(id);
    }
    if (gone.length > 0) await this.#send('session', ['HDEL', INDEX + sub, ...gone]);
    return out;
  }
}

/** HGETALL's reply as pairs: node-redis answers a flat array (RESP2) or an object (a map). */
function fieldPairs(reply: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), String(reply[i + 1])]);
  } else if (typeof reply === 'object' && reply !== null) {
    for (const [k, v] of Object.entries(reply)) out.push([k, String(v)]);
  }
  return out;
}
