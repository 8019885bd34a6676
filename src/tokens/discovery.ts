/**
 * Authorization-server metadata for a bearer issuer: where its keys (`jwks_uri`) and its
 * introspection endpoint live, when the config does not say. The document must name the
 * configured issuer exactly, or a mix-up could make us trust another issuer's keys.
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
import type { Dispatcher } from 'undici';
import { fetchJson, isJsonObject } from './fetch-json.ts';

export interface IssuerMetadata {
  readonly issuer: string;
  readonly jwks_uri?: string;
  readonly introspection_endpoint?: string;
}

/**
 * The well-known URLs to try, in order: OpenID Connect (`{issuer}/.well-known/openid-configuration`),
 * then RFC 8414, which inserts the well-known segment before an issuer's path.
 */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const base = issuer.endsWith('/') ? issuer.slice(0, -1) : issuer;
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${base}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

/** An endpoint URL from metadata: absolute http(s), and https when the issuer is https. */
function endpoint(issuer: string, value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !URL.canParse(value)) throw new Error(`"${name}" is not a URL`);
  const { protocol } = new URL(value);
  if (protocol !== 'https:' && protocol !== 'http:') throw new Error(`"${name}" is not an http(s) URL`);
  if (protocol === 'http:' && issuer.startsWith('https:')) throw new Error(`"${name}" downgrades to http`);
  return value;
}

/**
 * Fetch and check the metadata of `issuer`. Rejects with a log-safe `Error` when no well-known
 * document answers with a JSON object naming exactly this issuer.
 */
export async function discoverIssuer(
  issuer: string,
  opts: { dispatcher: Dispatcher; timeout: number },
): Promise<IssuerMetadata> {
  const problems: string[] = [];
  for (const url of discoveryUrls(issuer)) {
    let res: Awaited<ReturnType<typeof fetchJson>>;
    try {
      res = await fetchJson(url, {
        dispatcher: opts.dispatcher,
        timeout: opts.timeout,
        maxBytes: 256 * 1024,
      });
    } catch (err) {
      problems.push(`${url}: ${(err as Error).message}`);
      continue;
    }
    if (res.status !== 200 || !isJsonObject(res.body)) {
      problems.push(`${url}: HTTP ${res.status}${isJsonObject(res.body) ? '' : ', not a JSON object'}`);
      continue;
    }
    const doc = res.body;
    if (doc.issuer !== issuer) {
      // Not a fallback case: the server answered, for another issuer.
      throw new Error(
        `${url}: "issuer" is ${JSON.stringify(doc.issuer)}, expected ${JSON.stringify(issuer)}`,
      );
    }
    const jwks_uri = endpoint(issuer, doc.jwks_uri, 'jwks_uri');
    const introspection_endpoint = endpoint(issuer, doc.introspection_endpoint, 'introspection_endpoint');
    return {
      issuer,
      ...(jwks_uri ? { jwks_uri } : {}),
      ...(introspection_endpoint ? { introspection_endpoint } : {}),
    };
  }
  throw new Error(`discovery failed: ${problems.join('; ')}`);
}
