/**
 * Opaque (non-JWT) access tokens, asked of the issuer's introspection endpoint. Concurrent
 * requests with the same token share one call; the answer is then cached by the verifier like a
 * verified JWT. The response is IdP output, so it is checked like a token: `active`, `exp`,
 * `nbf`, `iss`, `aud` and the required claims.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662
 */
import type { Dispatcher } from 'undici';
import type { BearerIssuerConfig } from '../config/schema.ts';
import type { Log } from '../observe/logger.ts';
import { fetchJson, isJsonObject } from './fetch-json.ts';
import { fingerprint, tokenError } from './token-errors.ts';

export type IntrospectionConfig = NonNullable<BearerIssuerConfig['introspection']>;

export interface Introspector {
  /** The claims of an active token; throws `token_inactive`, `introspection_failed` or a claim code. */
  introspect(token: string, hash: string, now: number): Promise<Readonly<Record<string, unknown>>>;
}

export interface IntrospectorOptions {
  issuer: BearerIssuerConfig;
  /** the endpoint: from config, or discovery (may reject) */
  endpoint: () => Promise<string>;
  dispatcher: Dispatcher;
  log: Log;
  timeout: number;
}

/** `application/x-www-form-urlencoded` of one value, as RFC 6749 §2.3.1 requires for Basic credentials. */
const formEncode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');

export function createIntrospector(opts: IntrospectorOptions): Introspector {
  const cfg = opts.issuer.introspection;
  if (!cfg) {
    throw Object.assign(new TypeError(`"introspection" is not configured for ${opts.issuer.issuer}`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const inFlight = new Map<string, Promise<Record<string, unknown>>>();

  async function call(token: string, hash: string): Promise<Record<string, unknown>> {
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (cfg!.auth_method === 'client_secret_post') {
      form.set('client_id', cfg!.client_id);
      form.set('client_secret', cfg!.client_secret);
    } else {
      const basic = `${formEncode(cfg!.client_id)}:${formEncode(cfg!.client_secret)}`;
      headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    }
    let res: Awaited<ReturnType<typeof fetchJson>>;
    try {
      const url = await opts.endpoint();
      res = await fetchJson(url, {
        dispatcher: opts.dispatcher,
        timeout: opts.timeout,
        maxBytes: 64 * 1024,
        method: 'POST',
        headers,
        body: form.toString(),
      });
    } catch (err) {
      opts.log.warn(
        { issuer: opts.issuer.issuer, token: fingerprint(hash), reason: (err as Error).message },
        'introspection failed',
      );
      throw tokenError('introspection_failed', undefined, err);
    }
    if (res.status !== 200 || !isJsonObject(res.body) || typeof res.body.active !== 'boolean') {
      opts.log.warn(
        { issuer: opts.issuer.issuer, token: fingerprint(hash), status: res.status },
        'introspection failed: not an RFC 7662 response',
      );
      throw tokenError('introspection_failed', `introspection answered HTTP ${res.status}`);
    }
    return res.body;
  }

  return {
    async introspect(token, hash, now) {
      let pending = inFlight.get(hash);
      if (!pending) {
        pending = call(token, hash).finally(() => inFlight.delete(hash));
        inFlight.set(hash, pending);
      }
      const body = await pending;
      if (body.active !== true) throw tokenError('token_inactive');
      checkIntrospected(body, opts.issuer, now);
      return body;
    },
  };
}

/**
 * The token checks that still apply to an introspection answer: the IdP says "active", but the
 * audience, issuer and time window are ours to enforce (RFC 7662 §4).
 */
export function checkIntrospected(
  claims: Readonly<Record<string, unknown>>,
  cfg: BearerIssuerConfig,
  now: number,
): void {
  const nowS = Math.floor(now / 1000);
  const skew = cfg.clock_skew / 1000;
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    if (claims[name] !== undefined && typeof claims[name] !== 'number') {
      throw tokenError('token_malformed', `claim "${name}" is not a number`);
    }
  }
  if (typeof claims.exp === 'number' && claims.exp <= nowS - skew) throw tokenError('token_expired');
  if (typeof claims.nbf === 'number' && claims.nbf > nowS + skew) throw tokenError('token_not_yet_valid');
  if (typeof claims.iat === 'number' && claims.iat > nowS + skew) throw tokenError('token_not_yet_valid');
  if (claims.iss !== undefined && claims.iss !== cfg.issuer) throw tokenError('issuer_mismatch');
  if (claims.aud !== undefined && !audienceMatches(claims.aud, cfg.audiences)) {
    throw tokenError('audience_mismatch');
  }
  for (const name of cfg.required_claims) {
    if (!Object.hasOwn(claims, name)) throw tokenError('missing_claim', `claim "${name}" is missing`);
  }
}

/** `aud` (a string or an array of strings) names at least one accepted audience, exactly. */
export function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud);
  return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && accepted.includes(a));
}
