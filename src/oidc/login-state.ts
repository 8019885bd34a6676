/**
 * The login cookie: what must survive the round trip to the IdP – the PKCE `code_verifier`,
 * the `nonce`, the `state`, the provider it was started for, and where to go afterwards – sealed with iron under the session
 * secrets, and nothing else.
 *
 * One cookie per login attempt, named `<cookie_name>_login_<id>`, so several tabs can log in at
 * once without overwriting each other's state; `state` is `<id>.<random>`, so the callback
 * finds its own cookie directly. The cookie lives on the endpoints prefix (not only on
 * `/callback`) so `/start` sees the existing ones and keeps at most {@link MAX_LOGIN_COOKIES}.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7.1
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { parseCookieHeader, serializeCookie } from '../session/cookie-header.ts';
import { createSealer } from '../session/seal.ts';

/** Concurrent login attempts kept per browser; starting another expires the oldest. */
export const MAX_LOGIN_COOKIES = 5;

export interface LoginState {
  /** the provider this login was started for: only its callback may complete it */
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
  /** the validated redirect target */
  rd: string;
  /** epoch ms */
  exp: number;
}

export interface LoginCookies {
  /** cookie name prefix, `[__Secure-]<cookie_name>_login_` */
  readonly prefix: string;
  newId(): string;
  /** `state` for a login id: `<id>.<random>` */
  newState(id: string): string;
  /** The login id a `state` names, or undefined when it is not in our format. */
  idOf(state: string | null | undefined): string | undefined;
  /** Login cookie names in the request, oldest first (browsers send them in creation order). */
  present(cookieHeader: string | undefined): string[];
  /** The sealed value of login `id` in the request. */
  valueOf(cookieHeader: string | undefined, id: string): string | undefined;
  seal(state: LoginState): Promise<string>;
  /** The state, or undefined for a tampered, truncated or foreign cookie (expiry is the caller's). */
  unseal(value: string): Promise<LoginState | undefined>;
  set(id: string, sealed: string): string;
  expire(name: string): string;
}

const ID = /^[0-9a-f]{8}$/;
const STATE = /^([0-9a-f]{8})\.[A-Za-z0-9_-]{16,128}$/;

export function createLoginCookies(opts: {
  cookieName: string;
  secrets: readonly string[];
  secure: boolean;
  /** `{prefix}`: the cookie is sent to `/start` and `/callback` only */
  path: string;
  loginTimeoutMs: number;
}): LoginCookies {
  // `__Host-` demands Path=/, which would send this cookie everywhere; `__Secure-` does not.
  const prefix = `${opts.secure ? '__Secure-' : ''}${opts.cookieName}_login_`;
  const sealer = createSealer(opts.secrets);
  const attrs = { path: opts.path, secure: opts.secure };

  return {
    prefix,
    newId: () => randomBytes(4).toString('hex'),
    newState: (id) => `${id}.${randomBytes(24).toString('base64url')}`,
    idOf(state) {
      if (typeof state !== 'string') return undefined;
      return STATE.exec(state)?.[1];
    },
    present(cookieHeader) {
      const names = parseCookieHeader(cookieHeader)
        .map(([name]) => name)
        .filter((name) => name.startsWith(prefix) && ID.test(name.slice(prefix.length)));
      return [...new Set(names)];
    },
    valueOf(cookieHeader, id) {
      const name = prefix + id;
      return parseCookieHeader(cookieHeader).find(([n]) => n === name)?.[1];
    },
    seal: (state) => sealer.seal(state, opts.loginTimeoutMs / 1000),
    async unseal(value) {
      const opened = await sealer.unseal(value);
      const s = opened?.data as Partial<LoginState> | undefined;
      if (
        typeof s?.provider !== 'string' ||
        typeof s.state !== 'string' ||
        typeof s.nonce !== 'string' ||
        typeof s.verifier !== 'string' ||
        typeof s.rd !== 'string' ||
        typeof s.exp !== 'number'
      ) {
        return undefined;
      }
      return s as LoginState;
    },
    set: (id, sealed) =>
      serializeCookie(prefix + id, sealed, { ...attrs, maxAge: Math.floor(opts.loginTimeoutMs / 1000) }),
    expire: (name) => serializeCookie(name, '', { ...attrs, maxAge: 0 }),
  };
}

/** Constant-time string equality (state values are compared without a timing oracle). */
export function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
