/**
 * A world for the multi-IdP tests: two real dev IdPs shaped like Keycloak (`corp`) and Cognito
 * (`partners`), a real echo upstream, and a real Gatehouse configured with both as a list of
 * named OIDC providers and as bearer issuers. Plus the small HTTP and HTML helpers the tests share.
 */
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { idpBearer, route, testConfig } from './config.ts';
import type { CookieJar } from './cookie-jar.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from './gatehouse.ts';
import { type EchoUpstream, startEchoUpstream } from './upstream.ts';

export const PREFIX = '/.gatehouse';
export const CORP_CLIENT = 'gh-corp';
export const PARTNERS_CLIENT = 'gh-partners';
export const CORP_LABEL = 'Corp Keycloak';

/** Keycloak-shaped users: realm roles and per-client roles. */
export const CORP_USERS = {
  // admin through a realm role
  'kc-alice': {
    email: 'alice@corp.example',
    name: 'Alice Keycloak',
    realm_access: { roles: ['gh-admin', 'offline_access'] },
    resource_access: { [CORP_CLIENT]: { roles: ['viewer'] }, account: { roles: ['manage-account'] } },
  },
  // admin through a client role of Gatehouse's own client
  'kc-erin': {
    email: 'erin@corp.example',
    name: 'Erin Keycloak',
    realm_access: { roles: ['default-roles-corp'] },
    resource_access: { [CORP_CLIENT]: { roles: ['gh-admin'] } },
  },
  // gh-admin only as a role of ANOTHER client: not an admin here
  'kc-frank': {
    email: 'frank@corp.example',
    name: 'Frank Keycloak',
    realm_access: { roles: ['default-roles-corp'] },
    resource_access: { 'some-other-app': { roles: ['gh-admin'] } },
  },
};

/** Cognito-shaped users: `cognito:groups`. */
export const PARTNER_USERS = {
  'cg-carol': { email: 'carol@partner.example', name: 'Carol Cognito', 'cognito:groups': ['partner-admins'] },
  'cg-dave': { email: 'dave@partner.example', name: 'Dave Cognito' },
};

export interface MultiIdpWorld {
  readonly corp: DevIdp;
  readonly partners: DevIdp;
  readonly upstream: EchoUpstream;
  readonly gh: TestGatehouse;
  close(): Promise<void>;
}

export async function startMultiIdpWorld(opts: { accessTokenTtl?: number } = {}): Promise<MultiIdpWorld> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const ttl = opts.accessTokenTtl === undefined ? {} : { accessTokenTtl: opts.accessTokenTtl };
  const upstream = await startEchoUpstream();
  const corp = await startDevIdp({
    ...ttl,
    clientId: CORP_CLIENT,
    clientSecret: 'corp-client-secret-0123456789abcdefghij',
    // Several providers: each has its own callback path (and no other is registered).
    redirectUris: [`${base}${PREFIX}/callback/corp`],
    postLogoutRedirectUris: [`${base}/`, `${base}${PREFIX}/signed_out`],
    users: CORP_USERS,
    extraClaims: ['realm_access', 'resource_access'],
    machineClaims: { realm_access: { roles: ['gh-admin'] } },
  });
  const partners = await startDevIdp({
    ...ttl,
    clientId: PARTNERS_CLIENT,
    clientSecret: 'partners-client-secret-0123456789abcdefgh',
    redirectUris: [`${base}${PREFIX}/callback/partners`],
    postLogoutRedirectUris: [`${base}/`, `${base}${PREFIX}/signed_out`],
    users: PARTNER_USERS,
    extraClaims: ['cognito:groups'],
    machineClaims: { 'cognito:groups': ['partner-admins'] },
  });
  let gh: TestGatehouse;
  try {
    const scopes = ['openid', 'profile', 'email', 'groups', 'offline_access'];
    gh = await startTestGatehouse(
      testConfig({
        oidc: [
          {
            name: 'corp',
            display_name: CORP_LABEL,
            issuer: corp.issuer,
            client_id: corp.clientId,
            client_secret: corp.clientSecret,
            scopes,
            claims_mapper: 'keycloak',
            roles: { map: { 'gh-admin': 'admin' } },
          },
          {
            name: 'partners',
            issuer: partners.issuer,
            client_id: partners.clientId,
            client_secret: partners.clientSecret,
            scopes,
            claims_mapper: 'cognito',
            roles: { map: { 'partner-admins': 'admin' } },
          },
        ],
        bearer: [idpBearer(corp), idpBearer(partners)],
        routes: [
          route('corp-only', '/corp', upstream.url, { providers: ['corp'] }),
          route('admin', '/admin', upstream.url, { policy: { allow: [{ roles: ['admin'] }] } }),
          route('partner-area', '/partner', upstream.url, {
            policy: { allow: [{ providers: ['partners'] }] },
          }),
          route('app', '/', upstream.url),
        ],
      }),
      { port },
    );
  } catch (err) {
    await Promise.all([corp.close(), partners.close(), upstream.close()]);
    throw err;
  }
  await gh.ready(15_000);
  return {
    corp,
    partners,
    upstream,
    gh,
    async close() {
      await gh.close();
      await Promise.all([corp.close(), partners.close(), upstream.close()]);
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = { error?: string }>(): T;
}

/** One real HTTP request; cookies from `jar` are sent and the answer's Set-Cookie stored back. */
export async function http(
  url: string,
  opts: { jar?: CookieJar; accept?: string; headers?: Record<string, string>; method?: 'GET' | 'POST' } = {},
): Promise<HttpResult> {
  const cookie = opts.jar?.header(url);
  const res = await request(url, {
    method: opts.method ?? 'GET',
    headers: { accept: opts.accept ?? 'application/json', ...(cookie ? { cookie } : {}), ...opts.headers },
  });
  opts.jar?.setFrom(url, res.headers['set-cookie']);
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: <T>() => {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new Error(`not JSON (status ${res.statusCode}): ${text.slice(0, 200)}`);
      }
    },
  };
}

/** Names of the Gatehouse session cookies (`gatehouse`, `gatehouse.0`, …) in the jar. */
export function sessionCookies(jar: CookieJar): string[] {
  return jar.names().filter((n) => n === 'gatehouse' || /^gatehouse\.\d+$/.test(n));
}

/** True when a Set-Cookie header value sets (not clears) a session cookie. */
export function setsSession(setCookie: string | string[] | undefined): boolean {
  const lines = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  return lines.some((l) => /^gatehouse(\.\d+)?=[^;]/.test(l) && !/max-age=0/i.test(l));
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code =
        ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      return String.fromCodePoint(code);
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}

/** Every `<a href>` of an HTML page: the unescaped href and the link's text, whitespace collapsed. */
export function htmlLinks(html: string): { href: string; text: string }[] {
  return [
    ...html.matchAll(/<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>([\s\S]*?)<\/a>/gi),
  ].map((m) => ({
    href: unescapeHtml(m[1] ?? m[2] ?? m[3] ?? ''),
    text: unescapeHtml((m[4] ?? '').replace(/<[^>]*>/g, ''))
      .replace(/\s+/g, ' ')
      .trim(),
  }));
}

/** The payload of a JWT, decoded (not verified). */
export function jwtPayload(jwt: string | string[] | undefined): Record<string, unknown> {
  if (typeof jwt !== 'string') throw new Error(`not a JWT: ${String(jwt)}`);
  const part = jwt.split('.')[1];
  if (part === undefined) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Requests made to an IdP, by path, ignoring discovery and JWKS (which a relying party may
 * fetch in the background at any time).
 */
export function idpCalls(idp: DevIdp): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [path, n] of idp.hits) {
    if (path === '/jwks' || path.startsWith('/.well-known/')) continue;
    out[path] = n;
  }
  return out;
}
