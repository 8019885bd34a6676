/**
 * The config schema: every key a user may write, its type, default and bounds.
 * Objects are strict: a key the schema does not know is an error, never a silent no-op.
 * Durations are written as `500ms`, `30s`, `5m`, `1h`, `1d` and become milliseconds.
 */
import * as z from 'zod';
import { parseCidr } from '../http/cidr.ts';
import { parseClaimPath } from '../policy/claims.ts';
import { MAX_CHUNKS, MAX_CHUNKS_LIMIT } from '../session/chunks.ts';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in milliseconds, written `30s` (or a bare number of seconds). */
export function duration(opts: { min?: number; max?: number } = {}) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    let ms: number;
    if (typeof value === 'number') {
      ms = value * 1000;
    } else {
      const m = DURATION.exec(value.trim());
      if (!m) {
        ctx.addIssue({
          code: 'custom',
          message: `"${value}" is not a duration (use 500ms, 30s, 5m, 1h, 1d)`,
        });
        return z.NEVER;
      }
      ms = Number(m[1]) * (UNIT_MS[m[2]!] ?? 1);
    }
    if (!Number.isFinite(ms) || ms < 0) {
      ctx.addIssue({ code: 'custom', message: 'duration must be a non-negative number' });
      return z.NEVER;
    }
    if (opts.min !== undefined && ms < opts.min) {
      ctx.addIssue({ code: 'custom', message: `duration must be at least ${opts.min}ms` });
      return z.NEVER;
    }
    if (opts.max !== undefined && ms > opts.max) {
      ctx.addIssue({ code: 'custom', message: `duration must be at most ${opts.max}ms` });
      return z.NEVER;
    }
    return Math.round(ms);
  });
}

/**
 * The longest unix socket path the OS takes, in bytes: `sun_path` is 108 bytes on Linux and 104
 * on macOS and the BSDs, one of them the terminating NUL.
 * @see https://man7.org/linux/man-pages/man7/unix.7.html
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/**
 * `host:port`, `:port` or a bare port (the host defaults as given), or `unix:/absolute/path` for
 * a unix domain socket (nginx or Caddy on the same host, no TCP).
 */
const listenAddress = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .superRefine((v, ctx) => {
    if (v.startsWith('unix:')) {
      const path = v.slice('unix:'.length);
      if (!path.startsWith('/'))
        ctx.addIssue({
          code: 'custom',
          message: `"${v}": a unix socket path must be absolute (unix:/run/…)`,
        });
      else if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES)
        ctx.addIssue({
          code: 'custom',
          message: `"${path}" is ${Buffer.byteLength(path)} bytes: a unix socket path may have at most ${MAX_SOCKET_PATH_BYTES}`,
        });
      return;
    }
    if (!/^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?\d{1,5}$/.test(v))
      ctx.addIssue({ code: 'custom', message: 'must be host:port, :port, a port number or unix:/path' });
  });

/**
 * A file mode in octal, `"0660"`, in quotes: YAML reads an unquoted 0660 as the number 660
 * (YAML 1.2) or 432 (YAML 1.1), neither of which is meant.
 */
const socketMode = z.union([z.string(), z.number()]).transform((v, ctx) => {
  if (typeof v !== 'string' || !/^0?[0-7]{3}$/.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(v)}: must be an octal file mode in quotes, such as "0660"`,
    });
    return z.NEVER;
  }
  return Number.parseInt(v, 8);
});

/**
 * `groups`, `realm_access.roles`, `cognito:groups`: dotted names, no empty segment; a name with
 * a dot in it is quoted, `"https://example.com/roles"` (see policy/claims.ts).
 */
const claimPath = z.string().refine((v) => parseClaimPath(v) !== undefined, {
  message: 'must be a dotted claim path such as a.b.c',
});

const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an absolute http(s) URL' });
const nonEmptyStrings = z.array(z.string().min(1)).min(1, { message: 'must list at least one value' });
/** An IP address or CIDR, or `unix`: a peer on the unix socket `server.listen` names. */
const cidr = z.string().refine((v) => v === 'unix' || /^[0-9a-fA-F:.]+(?:\/\d{1,3})?$/.test(v), {
  message: 'must be an IP address or CIDR such as 10.0.0.0/8, or unix',
});

export const AUTH_TYPES = ['session', 'bearer'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/**
 * What a rule's `auth_types:` may name: a credential kind (`session`, `bearer`: any bearer
 * token), or a bearer token whose key was proven on this request (`dpop`: RFC 9449, `mtls`:
 * RFC 8705). A route's `auth:` list names credential kinds only ({@link AUTH_TYPES}).
 */
export const RULE_AUTH_TYPES = ['session', 'bearer', 'dpop', 'mtls'] as const;
export type RuleAuthType = (typeof RULE_AUTH_TYPES)[number];

/**
 * An OAuth scope (RFC 6749 §3.3 scope-token): printable ASCII without space, `"` or `\`, so it
 * can be named inside `WWW-Authenticate: Bearer scope="…"` as it is.
 */
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/, {
  message: 'must be an OAuth scope: printable ASCII without spaces, quotes or backslashes',
});
/** An IP address or CIDR block, IPv4 or IPv6 (`10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`). */
const ipBlock = z.string().refine((v) => parseCidr(v) !== undefined, {
  message: 'must be an IP address or CIDR such as 10.0.0.0/8 or 2001:db8::/32',
});
/** One IP address (no prefix). */
const ipAddress = z.string().refine((v) => !v.includes('/') && parseCidr(v) !== undefined, {
  message: 'must be an IP address such as 10.1.2.3 or 2001:db8::1',
});

/**
 * One policy rule: every key present must match (AND). At least one key is required, and
 * lists may not be empty, so no rule silently matches everything or nothing.
 */
export const ruleSchema = z
  .strictObject({
    authenticated: z.literal(true).optional(),
    roles: nonEmptyStrings.optional(),
    groups: nonEmptyStrings.optional(),
    emails: nonEmptyStrings.optional(),
    email_domains: nonEmptyStrings.optional(),
    claims: z
      .record(
        claimPath,
        z
          .array(z.union([z.string(), z.number(), z.boolean()]))
          .min(1, { message: 'must list at least one value' }),
      )
      .optional(),
    auth_types: z.array(z.enum(RULE_AUTH_TYPES)).min(1).optional(),
    /** the provider (`oidc[].name` or `bearer[].name`) the identity came from */
    providers: nonEmptyStrings.optional(),
    /** the OAuth client of a machine token (`client_id`, else `azp`), any of them */
    clients: nonEmptyStrings.optional(),
    /** the token's granted scopes (`scope`, `scp`) hold every one listed */
    scopes: z.array(scopeToken).min(1, { message: 'must list at least one value' }).optional(),
    /** the client address (after `server.trusted_proxies`) lies in one of these blocks */
    source_ips: z.array(ipBlock).min(1, { message: 'must list at least one value' }).optional(),
    /** the connection's client certificate (verified against server.tls.client_ca_file) */
    client_certificate: z
      .strictObject({
        /** subject DNs such as `CN=agent-1, O=Example`: attributes compared as a set */
        subjects: nonEmptyStrings.optional(),
        /** subjectAltName entries: `DNS:host`, `URI:spiffe://…`, `email:a@b` */
        sans: nonEmptyStrings.optional(),
        /** SHA-256 of the DER: hex (colons allowed) or base64url (`x5t#S256`) */
        fingerprints: nonEmptyStrings.optional(),
      })
      .refine((c) => Object.keys(c).length > 0, { message: 'must name subjects, sans or fingerprints' })
      .optional(),
  })
  .refine((r) => Object.keys(r).length > 0, { message: 'a rule must name at least one condition' });
export type RuleConfig = z.infer<typeof ruleSchema>;

export const policySchema = z.union([
  z.literal('public'),
  z.strictObject({
    allow: z.array(ruleSchema).min(1, { message: 'must list at least one rule' }),
    deny: z.array(ruleSchema).default([]),
  }),
]);
export type PolicyConfig = z.infer<typeof policySchema>;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

/** A bounded count: requests and burst of a rate limit. */
const limitCount = z
  .number({ message: 'must be a whole number' })
  .int({ message: 'must be a whole number' })
  .min(1, { message: 'must be at least 1' })
  .max(1_000_000, { message: 'must be at most 1000000' });

/**
 * A per-route token bucket: `requests` tokens per `window`, holding at most `burst` (default
 * `requests`). See src/limits/.
 */
export const rateLimitSchema = z
  .strictObject({
    /** whose bucket: the identity (idp + sub), the OAuth client (else the identity), or the address */
    per: z.enum(['identity', 'client', 'ip']).default('identity'),
    requests: limitCount,
    window: duration({ min: 1000, max: 86_400_000 }),
    burst: limitCount.optional(),
    /** the shared store cannot answer: let the request through (default) or refuse it (503) */
    on_store_error: z.enum(['allow', 'deny']).default('allow'),
  })
  .transform((r) => ({ ...r, burst: r.burst ?? r.requests }));
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;

export const routeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'must be 1-64 characters of A-Z a-z 0-9 _ . -' }),
  match: z
    .strictObject({
      /** exact host, or `*.example.com` for any subdomain; absent = any host */
      host: z
        .string()
        .regex(/^(\*\.)?[A-Za-z0-9.-]+(:\d+)?$/, { message: 'must be a host name or *.domain' })
        .optional(),
      /** path prefix, segment-aware: /admin matches /admin and /admin/x, not /administrator */
      path: z.string().startsWith('/', { message: 'must start with /' }).default('/'),
      methods: z
        .array(z.string().transform((m) => m.toUpperCase()))
        .pipe(z.array(z.enum(METHODS)))
        .optional(),
    })
    .prefault({}),
  upstream: httpUrl,
  /** upstream response timeout → 504 */
  timeout: duration({ min: 1 }).default(30_000),
  connect_timeout: duration({ min: 1 }).default(5_000),
  auth: z.array(z.enum(AUTH_TYPES)).min(1).default(['session', 'bearer']),
  policy: policySchema,
  /** false = dry run: decisions are computed, audited and counted, but the request passes */
  enforce: z.boolean().default(true),
  /** audience of the signed assertion; defaults to the upstream's origin */
  audience: z.string().min(1).optional(),
  /** send the client's Host upstream instead of the upstream's own */
  preserve_host: z.boolean().default(false),
  /** only identities from these providers count here; absent = every provider */
  providers: nonEmptyStrings.optional(),
  /** a token bucket per identity, client or address on this route; absent = no limit */
  rate_limit: rateLimitSchema.optional(),
  /**
   * routes with `bearer` in `auth`: publish OAuth Protected Resource Metadata (RFC 9728) at
   * `/.well-known/oauth-protected-resource<path>` and name it in 401s; false leaves that path
   * to the upstream
   */
  resource_metadata: z.boolean().default(true),
  /**
   * allow: a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) passes
   * unauthenticated – browsers never send credentials on one (oauth2-proxy's
   * `--skip-auth-preflight`); deny: it is checked like any request
   */
  cors_preflight: z.enum(['allow', 'deny']).default('deny'),
});
function compiles(source: string): boolean {
  try {
    new RegExp(source, 'u');
    return true;
  } catch {
    return false;
  }
}

export type RouteConfig = z.infer<typeof routeSchema>;

/** Built-in claim mappers: where each IdP family puts group and role names (see policy/claim-mappers.ts). */
export const CLAIMS_MAPPERS = ['okta', 'cognito', 'keycloak', 'entra', 'auth0', 'kubernetes'] as const;
export type ClaimsMapperName = (typeof CLAIMS_MAPPERS)[number];

/** A provider name: it appears in URLs (`/callback/NAME`, `?provider=NAME`), headers and audit lines. */
export const providerName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,32}$/, { message: 'must be 1-32 characters of A-Z a-z 0-9 _ -' });

const roleMap = z.record(z.string(), z.union([z.string().min(1), nonEmptyStrings]));

/**
 * How one issuer's claims become groups and roles. Shared by `oidc` providers and `bearer`
 * issuers: `claims_mapper` picks a built-in family, `roles.claims` adds (or, without a mapper,
 * replaces the top-level) claim paths, `roles.map` replaces the top-level map for this issuer.
 */
const claimMapping = {
  claims_mapper: z.enum(CLAIMS_MAPPERS).optional(),
  /** auth0 only: the namespace of its custom claims, e.g. https://example.com/ */
  claims_namespace: httpUrl.optional(),
  roles: z
    .strictObject({
      claims: z.array(claimPath).min(1).optional(),
      map: roleMap.optional(),
    })
    .optional(),
};

/** A list of asymmetric JWS algorithms: `none` and HS* (a shared secret) are refused. */
function asymmetricAlgs(defaults: string[]) {
  return z
    .array(z.string())
    .min(1)
    .default(defaults)
    .superRefine((algs, ctx) => {
      for (const alg of algs) {
        if (/^none$/i.test(alg)) ctx.addIssue({ code: 'custom', message: '"none" is never allowed' });
        else if (/^HS/i.test(alg))
          ctx.addIssue({
            code: 'custom',
            message: `"${alg}" is symmetric and refused for an issuer with a JWKS`,
          });
        else if (!ASYMMETRIC_ALGS.has(alg))
          ctx.addIssue({ code: 'custom', message: `"${alg}" is not a supported algorithm` });
      }
    });
}

export const bearerIssuerSchema = z.strictObject({
  issuer: z.string().min(1),
  /**
   * The provider name tokens of this issuer carry (`idp`), for `providers:` on routes and
   * rules. An issuer that is also an `oidc` provider's takes that provider's name and mapping.
   */
  name: providerName.optional(),
  audiences: nonEmptyStrings,
  algorithms: asymmetricAlgs(['RS256', 'ES256']),
  jwks_uri: httpUrl.optional(),
  clock_skew: duration({ max: 300_000 }).default(30_000),
  required_claims: z.array(z.string().min(1)).default([]),
  typ: z.string().min(1).optional(),
  jwks: z
    .strictObject({
      min_ttl: duration().default(60_000),
      max_ttl: duration().default(3_600_000),
      /** an unknown kid refetches at most once per cooldown */
      cooldown: duration().default(30_000),
      timeout: duration({ min: 1 }).default(5_000),
    })
    .prefault({}),
  /**
   * DPoP (RFC 9449) for this issuer's tokens: `required` refuses a token without a proof of its
   * key, `allowed` takes both, `off` (default) takes no DPoP scheme. A DPoP-bound token
   * (`cnf.jkt`) is never accepted as a plain Bearer token, whatever this says.
   */
  dpop: z.enum(['required', 'allowed', 'off']).default('off'),
  /** what a DPoP proof may be signed with (never HS* or none) */
  dpop_algorithms: asymmetricAlgs(['ES256', 'EdDSA', 'RS256', 'PS256']),
  /** how old a proof's `iat` may be (plus `clock_skew`) */
  dpop_max_age: duration({ min: 1000, max: 600_000 }).default(60_000),
  /** demand a server nonce in every proof (`DPoP-Nonce`, `use_dpop_nonce`) */
  dpop_nonce: z.boolean().default(false),
  /**
   * HMAC secrets of the nonces (the first issues, every one accepts): replicas must share them.
   * Default: `session.secrets`; without either, a random per-process secret (one instance only).
   */
  dpop_nonce_secrets: z
    .array(z.string().min(32, { message: 'must be at least 32 characters' }))
    .min(1)
    .optional(),
  introspection: z
    .strictObject({
      endpoint: httpUrl.optional(),
      client_id: z.string().min(1),
      client_secret: z.string().min(1),
      auth_method: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
      cache_ttl: duration().default(60_000),
    })
    .optional(),
  ...claimMapping,
});
export type BearerIssuerConfig = z.infer<typeof bearerIssuerSchema>;

export const ASYMMETRIC_ALGS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

export const oidcSchema = z.strictObject({
  /** required when `oidc` is a list; a single provider is called `default` */
  name: providerName.optional(),
  /** the label on the provider chooser page; defaults to the name */
  display_name: z.string().min(1).max(100).optional(),
  issuer: httpUrl,
  client_id: z.string().min(1),
  client_secret: z.string().min(1).optional(),
  token_endpoint_auth_method: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
    .default('client_secret_basic'),
  /** private JWK (JSON) or PKCS#8 PEM, for private_key_jwt */
  private_key: z.string().min(1).optional(),
  scopes: z.array(z.string().min(1)).default(['openid', 'profile', 'email']),
  /** read the userinfo endpoint after the code exchange and merge its claims */
  userinfo: z.boolean().default(false),
  id_token_algorithms: z.array(z.string()).default(['RS256', 'ES256', 'PS256', 'EdDSA']),
  clock_skew: duration({ max: 300_000 }).default(30_000),
  /** the login cookie (state, nonce, PKCE verifier) lives this long */
  login_timeout: duration({ min: 1000, max: 3_600_000 }).default(600_000),
  timeout: duration({ min: 1 }).default(10_000),
  extra_auth_params: z.record(z.string(), z.string()).default({}),
  ...claimMapping,
});
export type OidcConfig = z.infer<typeof oidcSchema>;

/**
 * A link a page shows (logo, support): `https://…` or a path on this site (`/help`). No `http:`
 * (mixed content, and a logo's origin goes into the CSP), no `//host`, no `javascript:`.
 */
const pageUrl = z
  .string()
  .max(2048)
  .refine(
    (v) => {
      if (/^\/(?![/\\])/.test(v)) return /^[\x21-\x7e]+$/.test(v);
      if (!/^https:\/\/[^/]/i.test(v)) return false;
      try {
        const url = new URL(v);
        return url.protocol === 'https:' && url.username === '' && url.password === '';
      } catch {
        return false;
      }
    },
    { message: 'must be an https:// URL or a path starting with /' },
  );

/** The pages Gatehouse renders (errors, chooser, signed out, …): branding and an own layout. */
export const uiSchema = z.strictObject({
  /** shown in every page's header and title */
  app_name: z.string().min(1).max(100).optional(),
  /** an image in the header; its origin is the only one the pages' CSP admits for images */
  logo_url: pageUrl.optional(),
  /** a "Contact support" link in every page's footer */
  support_url: pageUrl.optional(),
  /** a CSS file (≤ 64 KiB) appended to the pages' stylesheet; read at load, hashed into the CSP */
  custom_css: z.string().min(1).optional(),
  /** a folder with `layout.html` replacing the default layout; read at load */
  templates_dir: z.string().min(1).optional(),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      listen: listenAddress.default('0.0.0.0:8080'),
      /** the unix socket's file mode, applied after listen (with `listen: unix:/…` only) */
      socket_mode: socketMode.default(0o660),
      public_url: httpUrl.optional(),
      endpoints_prefix: z
        .string()
        .regex(/^\/[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/, {
          message: 'must be a path such as /.gatehouse',
        })
        .default('/.gatehouse'),
      trusted_proxies: z.array(cidr).default([]),
      allowed_redirect_domains: z.array(z.string().min(1)).default([]),
      tls: z
        .strictObject({
          cert_file: z.string().min(1),
          key_file: z.string().min(1),
          /** PEM CA bundle client certificates must chain to (mTLS, RFC 8705) */
          client_ca_file: z.string().min(1).optional(),
          /**
           * `optional`: a certificate is asked for, and requests without a trusted one reach the
           * pipeline (a bound token then gets a 401 with a reason); `required`: the handshake
           * fails without one
           */
          client_certificate: z.enum(['optional', 'required']).default('optional'),
        })
        .optional(),
      /** SIGTERM waits this long for in-flight requests before exiting */
      shutdown_grace: duration().default(10_000),
      /** worker processes; auto = one per core */
      workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default(1),
      /** total request header bytes accepted (node's maxHeaderSize) */
      max_header_size: z.number().int().min(1024).max(1_048_576).default(16_384),
      /** slow clients: time allowed to send all request headers */
      headers_timeout: duration({ min: 1000 }).default(20_000),
    })
    .superRefine((server, ctx) => {
      // A unix peer has no address (remoteAddress is undefined): trusting "no address" on a TCP
      // listener would trust a socket that closed before its request was read.
      const i = server.trusted_proxies.indexOf('unix');
      if (i !== -1 && !server.listen.startsWith('unix:'))
        ctx.addIssue({
          code: 'custom',
          path: ['trusted_proxies', i],
          message: '"unix" trusts peers on a unix socket, but server.listen is not unix:/…',
        });
    })
    .prefault({}),
  admin: z
    .strictObject({
      listen: listenAddress.default('127.0.0.1:9090'),
      /** `/` (a read-only HTML page) and `/live.json` on the admin listener */
      live_view: z.boolean().default(true),
      /** `GET /sessions?sub=` and `POST /sessions/revoke` on the admin listener */
      sessions: z.boolean().default(true),
      /** decisions the live view keeps in memory (a ring, newest replace oldest) */
      recent_decisions: z.number().int().min(1).max(10_000).default(500),
    })
    .prefault({}),
  /** Envoy's external authorization over gRPC (the HTTP service mode needs no key) */
  ext_authz: z
    .strictObject({
      grpc: z
        .strictObject({
          /** `host:port` or `unix:/path`: plaintext HTTP/2, for Envoy on the same host or network */
          listen: listenAddress.refine(
            (v) => v.startsWith('unix:') || /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(v),
            {
              message: 'must be host:port (such as 127.0.0.1:9191) or unix:/path',
            },
          ),
        })
        .optional(),
    })
    .prefault({}),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
    .prefault({}),
  /** one provider, or a list of named providers */
  oidc: z
    .union([oidcSchema, z.array(oidcSchema).min(1, { message: 'must list at least one provider' })])
    .optional(),
  session: z
    .strictObject({
      cookie_name: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be 1-64 characters of A-Z a-z 0-9 _ -' })
        .default('gatehouse'),
      /** the first seals, every one unseals (rotation) */
      secrets: z.array(z.string().min(32, { message: 'must be at least 32 characters' })).min(1),
      idle_timeout: duration({ min: 1000 }).default(3_600_000),
      max_lifetime: duration({ min: 1000 }).default(43_200_000),
      /** refresh the access token when it expires within this window */
      refresh_before: duration().default(60_000),
      /**
       * `cookie`: the whole session sealed in the cookie (chunked when large); `store`: the
       * cookie holds only a sealed random id, the session lives encrypted in `store`.
       */
      storage: z.enum(['cookie', 'store']).default('cookie'),
      cookie_domain: z.string().min(1).optional(),
      /**
       * most cookie chunks (3800 bytes each) a session is written in or read from; more is
       * `session_too_large` – read: cleared before any decoding, write: the login is refused
       */
      max_chunks: z.number().int().min(1).max(MAX_CHUNKS_LIMIT).default(MAX_CHUNKS),
    })
    .optional(),
  bearer: z.array(bearerIssuerSchema).default([]),
  roles: z
    .strictObject({
      claims: z.array(claimPath).default(['groups', 'roles']),
      map: roleMap.default({}),
    })
    .prefault({}),
  identity: z
    .strictObject({
      assertion: z
        .strictObject({
          header: z.string().default('X-Gatehouse-Assertion'),
          algorithm: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256'),
          /** private JWK (JSON) or PKCS#8 PEM; absent = generated at startup (one replica only) */
          key: z.string().min(1).optional(),
          /** earlier keys, still published in jwks.json until their assertions expire */
          previous_keys: z.array(z.string().min(1)).default([]),
          ttl: duration({ min: 1000, max: 300_000 }).default(60_000),
          /** sign each request's method and URL into the assertion (htm/htu) */
          bind_request: z.boolean().default(false),
        })
        .prefault({}),
      /**
       * the caller's access token upstream: `header` (or true) as X-Auth-Request-Access-Token,
       * `authorization` as `Authorization: Bearer …` (replacing the client's), false: not at all
       */
      pass_access_token: z
        .union([z.boolean(), z.enum(['header', 'authorization'])])
        .default(false)
        .transform((v) => (v === true ? 'header' : v)),
      /**
       * which groups go upstream (X-Auth-Request-Groups and the assertion): a regex, or a list of
       * exact names and `*` globs; policies and roles.map still see every group
       */
      groups_filter: z
        .union([
          z.string().min(1).refine(compiles, { message: 'must be a valid regular expression' }),
          z.array(z.string().min(1)).min(1),
        ])
        .optional(),
      /** most bytes of identity headers + assertion; more is `identity_headers_too_large` (500) */
      max_header_bytes: z.number().int().min(1024).max(65_536).default(16_384),
    })
    .prefault({}),
  cache: z
    .strictObject({
      tokens: z.number().int().min(0).max(10_000_000).default(10_000),
      sessions: z.number().int().min(0).max(10_000_000).default(10_000),
      assertions: z.number().int().min(0).max(10_000_000).default(10_000),
    })
    .prefault({}),
  audit: z.strictObject({ output: z.string().min(1).default('stdout') }).prefault({}),
  ui: uiSchema.prefault({}),
  store: z
    .string()
    .refine((v) => v === 'memory' || /^rediss?:\/\//.test(v), { message: 'must be memory or redis://…' })
    .default('memory'),
  /**
   * With a shared store unreachable, sessions are refused (`store_unavailable`, 503) unless this
   * is true: then each replica goes on with the revocations it already knows.
   */
  store_fail_open: z.boolean().default(false),
  /**
   * The key rate-limit bucket keys are hashed with (keyed SHA-256); default: derived from the first
   * session secret. A shared store with rate limits needs one of the two, the same on every replica.
   */
  rate_limit_secret: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
  routes: z.array(routeSchema).min(1, { message: 'must list at least one route' }),
  tests: z
    .array(
      z
        .strictObject({
          url: httpUrl,
          method: z.string().default('GET'),
          claims: z.record(z.string(), z.unknown()).optional(),
          /** `dpop` / `mtls`: a bearer token whose key was proven on the request */
          auth_type: z.enum(RULE_AUTH_TYPES).default('session'),
          /** the provider the claims come from (its mapping applies); default: the first */
          provider: z.string().min(1).optional(),
          /** shorthand for the `client_id` claim */
          client_id: z.string().min(1).optional(),
          /** shorthand for the `scope` claim (joined with spaces) */
          scopes: z.array(scopeToken).optional(),
          /** the client address the request comes from (default: none, so no `source_ips` matches) */
          source_ip: ipAddress.optional(),
          expect: z.enum(['allow', 'deny', 'login']),
        })
        .superRefine((test, ctx) => {
          const conflict = shorthandConflict(test.claims, test);
          if (conflict) ctx.addIssue({ code: 'custom', path: [conflict.key], message: conflict.message });
        }),
    )
    .default([]),
});

/** The validated, defaulted, frozen config. */
export type Config = z.infer<typeof configSchema>;

/**
 * A test (or `gatehouse explain`) that gives `client_id` or `scopes` beside claims that already
 * say it would be ambiguous: which one counts? Refused instead.
 */
export function shorthandConflict(
  claims: Readonly<Record<string, unknown>> | undefined,
  given: { client_id?: string; scopes?: readonly string[] },
): { key: 'client_id' | 'scopes'; message: string } | undefined {
  if (claims === undefined) return undefined;
  const has = (name: string) => Object.hasOwn(claims, name);
  if (given.client_id !== undefined && (has('client_id') || has('azp')))
    return { key: 'client_id', message: 'the claims already name the client (client_id or azp): give one' };
  if (given.scopes !== undefined && (has('scope') || has('scp')))
    return { key: 'scopes', message: 'the claims already carry scopes (scope or scp): give one' };
  return undefined;
}
