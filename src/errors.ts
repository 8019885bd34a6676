/**
 * The registry of every stable reason code: the HTTP status it answers with and the text a
 * client may see. Codes appear in audit lines, metrics-free logs and JSON error bodies; they are
 * part of the contract (README "Reason codes" documents each one, and a test keeps the two equal).
 * The `detail` text is safe to show a client: it never carries token, cookie or internal data.
 */
export const REASONS = {
  // allow decisions
  public_route: { status: 200, detail: 'The route is public.' },
  policy_allowed: { status: 200, detail: 'A policy rule allowed the request.' },
  preflight: { status: 200, detail: 'A CORS preflight passed unauthenticated (cors_preflight: allow).' },
  dry_run: { status: 200, detail: 'The policy denied the request, but the route is in dry-run mode.' },

  // credentials
  no_credentials: { status: 401, detail: 'Authentication is required.' },
  token_malformed: { status: 401, detail: 'The token is malformed.' },
  token_too_large: { status: 401, detail: 'The token is too large.' },
  token_expired: { status: 401, detail: 'The token has expired.' },
  token_not_yet_valid: { status: 401, detail: 'The token is not valid yet.' },
  bad_signature: { status: 401, detail: 'The token signature is invalid.' },
  issuer_mismatch: { status: 401, detail: 'The token issuer is not trusted.' },
  audience_mismatch: { status: 401, detail: 'The token audience is not accepted.' },
  alg_not_allowed: { status: 401, detail: 'The token algorithm is not allowed.' },
  unknown_kid: { status: 401, detail: 'The token signing key is unknown.' },
  typ_mismatch: { status: 401, detail: 'The token type is not accepted.' },
  missing_claim: { status: 401, detail: 'The token lacks a required claim.' },
  crit_unsupported: { status: 401, detail: 'The token has an unsupported critical header.' },
  token_inactive: { status: 401, detail: 'The token is not active.' },
  jwks_unavailable: { status: 401, detail: 'The signing keys could not be loaded.' },
  introspection_failed: { status: 401, detail: 'The token could not be introspected.' },
  auth_type_not_allowed: { status: 401, detail: 'This route does not accept this kind of credential.' },
  session_invalid: { status: 401, detail: 'The session is invalid.' },
  session_expired: { status: 401, detail: 'The session has expired.' },
  session_idle: { status: 401, detail: 'The session expired after inactivity.' },
  session_too_large: {
    status: 401,
    detail: 'The session is too large. Please sign in again.',
  },
  session_revoked: { status: 401, detail: 'The session was signed out.' },
  refresh_failed: { status: 401, detail: 'The session could not be refreshed.' },
  provider_not_allowed: { status: 401, detail: 'This route does not accept credentials from this provider.' },
  dpop_proof_missing: { status: 401, detail: 'The DPoP-bound token came without exactly one DPoP proof.' },
  dpop_proof_invalid: { status: 401, detail: 'The DPoP proof is invalid.' },
  dpop_proof_replayed: { status: 401, detail: 'The DPoP proof was already used.' },
  dpop_binding_mismatch: { status: 401, detail: 'The DPoP proof key does not match the token binding.' },
  dpop_nonce_required: { status: 401, detail: 'The DPoP proof must carry the current server nonce.' },
  dpop_bound_token_as_bearer: {
    status: 401,
    detail: 'A DPoP-bound token must be sent with the DPoP scheme.',
  },
  dpop_required: { status: 401, detail: 'This token issuer requires a DPoP-bound token.' },
  mtls_certificate_required: {
    status: 401,
    detail: 'The token is bound to a client certificate: present it, issued by the trusted CA.',
  },
  mtls_binding_mismatch: { status: 401, detail: 'The token is bound to another client certificate.' },

  // authorization
  policy_denied: { status: 403, detail: 'You are not allowed to access this resource.' },
  no_rule_matched: { status: 403, detail: 'You are not allowed to access this resource.' },
  insufficient_scope: { status: 403, detail: 'The token lacks a scope this resource requires.' },
  groups_overage: {
    status: 403,
    detail:
      'You are not allowed to access this resource: your identity provider left your groups out of the token.',
  },

  // login flow
  login_state_missing: { status: 400, detail: 'The login expired or was already used. Please start again.' },
  login_state_invalid: { status: 400, detail: 'The login state is invalid. Please start again.' },
  state_mismatch: { status: 400, detail: 'The login state does not match. Please start again.' },
  nonce_mismatch: {
    status: 400,
    detail: 'The identity token does not match this login. Please start again.',
  },
  idp_error: { status: 400, detail: 'The identity provider refused the login.' },
  id_token_invalid: { status: 502, detail: 'The identity provider returned an invalid identity token.' },
  token_exchange_failed: { status: 502, detail: 'The identity provider did not complete the login.' },
  idp_unavailable: { status: 503, detail: 'The identity provider is unreachable. Please try again shortly.' },
  login_not_configured: { status: 404, detail: 'Browser login is not configured.' },
  redirect_rejected: { status: 400, detail: 'The redirect target is not allowed.' },
  unknown_provider: { status: 400, detail: 'There is no such identity provider.' },
  idp_mismatch: {
    status: 400,
    detail: 'The login answer came back for another identity provider. Please start again.',
  },
  cross_site_request: { status: 403, detail: 'This request must come from this site.' },
  logout_token_invalid: { status: 400, detail: 'The logout token is invalid.' },

  // request and upstream
  route_not_found: { status: 404, detail: 'No route matches this request.' },
  wrong_host: {
    status: 421,
    detail: 'This site is not served at this address. Open it at its public address instead.',
  },
  bad_request: { status: 400, detail: 'The request is malformed.' },
  headers_too_large: { status: 431, detail: 'The request headers are too large.' },
  rate_limited: { status: 429, detail: 'Too many requests. Please slow down and try again later.' },
  upstream_unreachable: { status: 502, detail: 'The upstream service is unreachable.' },
  upstream_reset: { status: 502, detail: 'The upstream service closed the connection.' },
  upstream_timeout: { status: 504, detail: 'The upstream service did not answer in time.' },
  not_ready: { status: 503, detail: 'Gatehouse is starting up.' },
  shutting_down: { status: 503, detail: 'Gatehouse is shutting down.' },
  store_unavailable: {
    status: 503,
    detail: 'Sessions cannot be checked right now. Please try again shortly.',
  },
  identity_headers_too_large: {
    status: 500,
    detail: 'Your identity is too large to pass on to this service. The administrator has been told.',
  },
  internal_error: { status: 500, detail: 'An internal error occurred.' },
} as const satisfies Record<string, { status: number; detail: string }>;

export type ReasonCode = keyof typeof REASONS;

/**
 * A failure with a stable reason code, raised by any stage. `cause` holds evidence for logs
 * (never a secret); `message` is for operators, `REASONS[code].detail` is for clients.
 */
export class GatehouseError extends Error {
  readonly code: ReasonCode;
  constructor(code: ReasonCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? REASONS[code].detail, options);
    this.name = 'GatehouseError';
    this.code = code;
  }
  get status(): number {
    return REASONS[this.code].status;
  }
}

/** A config problem at a position: printed as `FILE:LINE:COL key.path: message`. */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

/** The whole config was refused; `problems` lists every issue found, in file order. */
export class ConfigError extends Error {
  readonly code = 'config_invalid' as const;
  readonly problems: readonly ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path || '(root)'}: ${p.message}`;
}
