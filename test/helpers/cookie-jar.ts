/**
 * A minimal browser-like cookie jar for tests: stores `Set-Cookie` by name, host and path,
 * honours `Max-Age`/`Expires` (0 or past deletes), `Path` matching and `Secure`, and renders the
 * `Cookie` header a browser would send – longer paths first, then creation order (RFC 6265
 * §5.4). Cookies ignore ports, as in browsers. No Domain attribute matching beyond host-only.
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-5.3
 */

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  secure: boolean;
  /** epoch ms; undefined = session cookie */
  expiresAt?: number;
  created: number;
}

let creationCounter = 0;

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Store every `Set-Cookie` of a response to `url`. */
  setFrom(url: string | URL, setCookie: string | string[] | undefined | null, now = Date.now()): void {
    if (!setCookie) return;
    const target = new URL(url);
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) this.#store(target, line, now);
  }

  /** Set a cookie by hand (a test tampering with a value), path `/` by default. */
  set(url: string | URL, name: string, value: string, path = '/'): void {
    this.#store(new URL(url), `${name}=${value}; Path=${path}`, Date.now());
  }

  /** The value of `name` (first match in header order for `url`, or any host/path when no url). */
  get(name: string, url?: string | URL): string | undefined {
    if (url !== undefined) return this.entries(url).find(([n]) => n === name)?.[1];
    for (const c of this.#cookies.values()) if (c.name === name) return c.value;
    return undefined;
  }

  /** Names of all stored, unexpired cookies. */
  names(now = Date.now()): string[] {
    return [...this.#cookies.values()].filter((c) => !expired(c, now)).map((c) => c.name);
  }

  delete(name: string): void {
    for (const [key, c] of this.#cookies) if (c.name === name) this.#cookies.delete(key);
  }

  /** `[name, value]` pairs a browser would send to `url`, in header order. */
  entries(url: string | URL, now = Date.now()): Array<[string, string]> {
    const target = new URL(url);
    return [...this.#cookies.values()]
      .filter(
        (c) =>
          !expired(c, now) &&
          c.host === target.hostname &&
          pathMatches(target.pathname, c.path) &&
          (!c.secure || target.protocol === 'https:'),
      )
      .sort((a, b) => b.path.length - a.path.length || a.created - b.created)
      .map((c) => [c.name, c.value]);
  }

  /** The `Cookie` header for `url`, or undefined when no cookie applies. */
  header(url: string | URL, now = Date.now()): string | undefined {
    const pairs = this.entries(url, now);
    return pairs.length === 0 ? undefined : pairs.map(([n, v]) => `${n}=${v}`).join('; ');
  }

  #store(url: URL, line: string, now: number): void {
    const [pair = '', ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let path = defaultPath(url.pathname);
    let secure = false;
    let expiresAt: number | undefined;
    let maxAgeSeen = false;
    for (const attr of attrs) {
      const [rawKey = '', ...rest] = attr.split('=');
      const key = rawKey.trim().toLowerCase();
      const val = rest.join('=').trim();
      if (key === 'path' && val.startsWith('/')) path = val;
      else if (key === 'secure') secure = true;
      else if (key === 'max-age' && /^-?\d+$/.test(val)) {
        maxAgeSeen = true;
        expiresAt = now + Number(val) * 1000;
      } else if (key === 'expires' && !maxAgeSeen) {
        const t = Date.parse(val);
        if (Number.isFinite(t)) expiresAt = t;
      }
    }
    const key = `${url.hostname}|${path}|${name}`;
    if (expiresAt !== undefined && expiresAt <= now) {
      this.#cookies.delete(key);
      return;
    }
    const old = this.#cookies.get(key);
    const cookie: StoredCookie = {
      name,
      value,
      host: url.hostname,
      path,
      secure,
      created: old?.created ?? ++creationCounter,
    };
    if (expiresAt !== undefined) cookie.expiresAt = expiresAt;
    this.#cookies.set(key, cookie);
  }
}

function expired(c: StoredCookie, now: number): boolean {
  return c.expiresAt !== undefined && c.expiresAt <= now;
}

function defaultPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath.charAt(cookiePath.length) === '/';
}
