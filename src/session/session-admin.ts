/**
 * Listing and revoking a user's sessions, for `gatehouse sessions` (`src/cli/sessions.ts`) and
 * the admin listener's `/sessions` endpoints (`src/server/admin-sessions.ts`). Both talk to the
 * config's store: a revocation is a revocation entry – which every replica's view receives at
 * once, so a session still cached anywhere is refused on its next request – plus, with
 * `session.storage: store`, the deletion of the record itself.
 *
 * With cookie storage there is nothing server-side to list. Revoking by subject still works –
 * the store's per-subject revocation refuses every cookie of that subject created until now –
 * and revoking by id takes the `session_id` that logs and audit lines name.
 */
import { oidcProviders } from '../config/providers.ts';
import type { Config } from '../config/schema.ts';
import type { SessionSummary, SharedStore } from '../store/store.ts';

export type RevokeTarget = { sub: string } | { id: string };

export interface SessionAdmin {
  /** @throws SessionAdminError `not_listable` with cookie storage */
  list(sub: string): Promise<SessionSummary[]>;
  /** @returns how many stored records were deleted (0 with cookie storage) */
  revoke(target: RevokeTarget): Promise<{ deleted: number }>;
}

/** A request the configured storage cannot serve (the message says what to do instead). */
export class SessionAdminError extends Error {
  readonly code: 'not_listable' | 'bad_target';
  constructor(code: SessionAdminError['code'], message: string) {
    super(message);
    this.name = 'SessionAdminError';
    this.code = code;
  }
}

/** Subjects and ids are looked up as given: bounded, and printable. */
const VALUE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

export function checkTarget(target: unknown): RevokeTarget {
  const t = target as { sub?: unknown; id?: unknown } | null;
  const sub = typeof t?.sub === 'string' ? t.sub : undefined;
  const id = typeof t?.id === 'string' ? t.id : undefined;
  if ((sub === undefined) === (id === undefined))
    throw new SessionAdminError('bad_target', 'name exactly one of "sub" or "id"');
  const value = (sub ?? id)!;
  if (!VALUE.test(value))
    throw new SessionAdminError(
      'bad_target',
      `"${sub !== undefined ? 'sub' : 'id'}" must be 1-255 printable characters`,
    );
  return sub !== undefined ? { sub } : { id: value };
}

export function createSessionAdmin(config: Config, store: SharedStore): SessionAdmin {
  const session = config.session;
  const stored = session?.storage === 'store';
  const maxLifetimeS = Math.ceil((session?.max_lifetime ?? 0) / 1000);
  const nowS = () => Math.floor(Date.now() / 1000);

  return {
    async list(sub) {
      checkTarget({ sub });
      if (!stored)
        throw new SessionAdminError(
          'not_listable',
          'sessions are listed only with session.storage: store (cookie sessions are kept by browsers, not by Gatehouse)',
        );
      return (await store.sessions.list(sub)).sort((a, b) => b.lastSeenAt - a.lastSeenAt);
    },

    async revoke(target) {
      const t = checkTarget(target);
      const now = nowS();
      if ('id' in t) {
        await store.revoke(t.id, now + maxLifetimeS);
        if (!stored) return { deleted: 0 };
        const existed = (await store.sessions.get(t.id)) !== undefined;
        await store.sessions.delete(t.id);
        return { deleted: existed ? 1 : 0 };
      }
      let deleted = 0;
      if (stored) {
        for (const s of await store.sessions.list(t.sub)) {
          await store.revoke(s.id, s.createdAt + maxLifetimeS);
          await store.sessions.delete(s.id, t.sub);
          deleted++;
        }
      }
      if (stored) return { deleted };
      // Cookie sessions: every session of the subject made until now (this second included),
      // from each configured IdP. Not for stored sessions – the records and their ids are gone
      // already, and a subject entry would also refuse a login made in this same second.
      for (const issuer of new Set(oidcProviders(config).map((p) => p.issuer)))
        await store.revokeSubject(issuer, t.sub, now, now + maxLifetimeS);
      return { deleted };
    },
  };
}
