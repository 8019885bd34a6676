/**
 * What each reason code says to a person in a browser: a title, a message in plain words, and the
 * next steps offered. One table for every code a non-allow answer can carry (the allow codes
 * never become a page); the compiler and a unit test keep it complete, so a new reason code
 * cannot reach a browser as a bare status line.
 */
import type { ReasonCode } from '../errors.ts';

/**
 * - `sign_in`: `{prefix}/start`, back to the page asked for when it is known
 * - `start_again`: `{prefix}/start` (the login that failed had its own target, now lost)
 * - `sign_out`: `{prefix}/sign_out`, to sign in as someone else
 * - `retry`: the same URL again
 * - `home`: `/`
 */
export type ActionKind = 'sign_in' | 'start_again' | 'sign_out' | 'retry' | 'home';

export interface ReasonPage {
  readonly title: string;
  readonly message: string;
  readonly actions: readonly ActionKind[];
}

export type PageReason = Exclude<ReasonCode, 'public_route' | 'policy_allowed' | 'dry_run' | 'preflight'>;

const TOKEN: ReasonPage = {
  title: 'Your credentials were not accepted',
  message:
    'The credential sent with this request could not be used here. Sign in again; if an application sent you here, ask it for a fresh sign-in.',
  actions: ['sign_in', 'home'],
};
const token = (message: string): ReasonPage => ({
  ...TOKEN,
  message: `${message} ${TOKEN.message.slice(TOKEN.message.indexOf('Sign in'))}`,
});
const SIGN_IN_FAILED: ReasonPage = {
  title: 'Sign-in could not be completed',
  message:
    'The answer from your identity provider did not match the sign-in this browser started, so it was not used. Please start again.',
  actions: ['start_again', 'home'],
};
const NO_ACCESS: ReasonPage = {
  title: "You don't have access to this page",
  message:
    'You are signed in, but your account is not allowed to open this page. If you think you should have access, ask the page’s owner – or sign out and sign in with another account.',
  actions: ['home', 'sign_out'],
};
const UNAVAILABLE = (title: string, message: string): ReasonPage => ({
  title,
  message,
  actions: ['retry', 'home'],
});

export const REASON_PAGES: { readonly [K in PageReason]: ReasonPage } = {
  no_credentials: {
    title: 'Sign in to continue',
    message: 'This page is only for signed-in users.',
    actions: ['sign_in', 'home'],
  },
  token_malformed: token('The token sent with this request is malformed.'),
  token_too_large: token('The token sent with this request is too large.'),
  token_expired: token('The token sent with this request has expired.'),
  token_not_yet_valid: token(
    'The token sent with this request is not valid yet – check the clock of the device that made it.',
  ),
  bad_signature: token('The token sent with this request has an invalid signature.'),
  issuer_mismatch: token('The token sent with this request comes from an issuer this site does not trust.'),
  audience_mismatch: token('The token sent with this request was made for another application.'),
  alg_not_allowed: token(
    'The token sent with this request is signed with an algorithm this site does not allow.',
  ),
  unknown_kid: token('The token sent with this request is signed with an unknown key.'),
  typ_mismatch: token('The token sent with this request is not an access token of the accepted type.'),
  missing_claim: token('The token sent with this request lacks a required claim.'),
  crit_unsupported: token(
    'The token sent with this request has a critical header this site does not understand.',
  ),
  token_inactive: token('The token sent with this request is no longer active.'),
  jwks_unavailable: UNAVAILABLE(
    'Your sign-in cannot be checked right now',
    'The keys needed to check your credential could not be loaded. Please try again in a moment.',
  ),
  introspection_failed: UNAVAILABLE(
    'Your sign-in cannot be checked right now',
    'Your identity provider could not confirm your credential. Please try again in a moment.',
  ),
  auth_type_not_allowed: {
    title: 'This kind of sign-in is not accepted here',
    message:
      'This page does not accept the kind of credential that was sent. Sign in with your browser instead.',
    actions: ['sign_in', 'home'],
  },
  session_invalid: {
    title: 'Your session could not be read',
    message:
      'The sign-in cookie in this browser is damaged or no longer valid, so it was removed. Sign in again to continue.',
    actions: ['sign_in', 'home'],
  },
  session_expired: {
    title: 'Your session expired',
    message:
      'You were signed in for the longest time this site allows. Sign in again to continue where you left off.',
    actions: ['sign_in', 'home'],
  },
  session_idle: {
    title: 'Your session expired',
    message:
      'You were inactive for a while, so you were signed out for safety. Sign in again to continue where you left off.',
    actions: ['sign_in', 'home'],
  },
  session_revoked: {
    title: 'You were signed out',
    message:
      'Your session was ended – here, in another tab, or at your identity provider. Sign in again to continue.',
    actions: ['sign_in', 'home'],
  },
  refresh_failed: {
    title: 'Your session ended',
    message:
      'Your identity provider did not renew your sign-in (it may have been ended there). Sign in again to continue.',
    actions: ['sign_in', 'home'],
  },
  provider_not_allowed: {
    title: 'Sign in with another provider',
    message: 'This page does not accept sign-ins from the identity provider you used.',
    actions: ['sign_in', 'home'],
  },
  policy_denied: NO_ACCESS,
  no_rule_matched: NO_ACCESS,
  insufficient_scope: {
    ...NO_ACCESS,
    message:
      'The credential you used does not grant the access (scope) this page requires. Ask the page’s owner, or sign in with another account.',
  },
  groups_overage: {
    ...NO_ACCESS,
    message:
      'You are signed in, but your identity provider left your groups out of the sign-in because you are in too many, so your access cannot be checked. Ask your administrator to limit the groups sent to this application.',
  },
  login_state_missing: {
    title: 'Your sign-in timed out',
    message:
      'The sign-in took too long, or this page was opened twice (for example with the back button). Please start again.',
    actions: ['start_again', 'home'],
  },
  login_state_invalid: SIGN_IN_FAILED,
  state_mismatch: SIGN_IN_FAILED,
  nonce_mismatch: SIGN_IN_FAILED,
  idp_mismatch: {
    ...SIGN_IN_FAILED,
    message:
      'The answer came back for a different identity provider than the one this sign-in started with, so it was not used. Please start again.',
  },
  idp_error: {
    title: 'Your identity provider refused the sign-in',
    message:
      'The identity provider ended the sign-in without signing you in. You can start again, or contact support if it keeps happening.',
    actions: ['start_again', 'home'],
  },
  id_token_invalid: {
    ...SIGN_IN_FAILED,
    message:
      'The identity provider’s answer could not be verified, so it was not used. Please start again; if it keeps happening, contact support.',
  },
  token_exchange_failed: {
    ...SIGN_IN_FAILED,
    message:
      'The identity provider did not finish the sign-in. Please start again; if it keeps happening, contact support.',
  },
  idp_unavailable: {
    title: 'Your identity provider is unreachable',
    message: 'Gatehouse could not reach the identity provider to sign you in. Please try again in a moment.',
    actions: ['retry', 'home'],
  },
  login_not_configured: {
    title: 'Sign-in is not available here',
    message: 'This site has no browser sign-in configured.',
    actions: ['home'],
  },
  redirect_rejected: {
    title: 'That destination is not allowed',
    message:
      'The link that brought you here asks to go on to an address this site does not send people to, so it stopped. Check the link, or go to the home page.',
    actions: ['home'],
  },
  unknown_provider: {
    title: 'Unknown sign-in provider',
    message:
      'The link names an identity provider this site does not know. Choose one of the providers it offers.',
    actions: ['start_again', 'home'],
  },
  cross_site_request: {
    title: 'Request refused',
    message:
      'This request came from another site, so it was not carried out. If you meant to sign out, use the button below.',
    actions: ['sign_out', 'home'],
  },
  logout_token_invalid: {
    title: 'Logout token refused',
    message: 'The logout request from the identity provider could not be verified.',
    actions: ['home'],
  },
  route_not_found: {
    title: 'Page not found',
    message: 'Nothing is served at this address. Check the link, or go to the home page.',
    actions: ['home'],
  },
  bad_request: {
    title: 'The request could not be understood',
    message: 'Your browser sent a request this site could not read. Go back and try again.',
    actions: ['home'],
  },
  headers_too_large: {
    title: 'The request is too large',
    message:
      'Your browser sent too much with this request – usually too many or too large cookies. Clear the cookies for this site, then try again.',
    actions: ['home'],
  },
  upstream_unreachable: UNAVAILABLE(
    'The application is unavailable',
    'The application behind this page cannot be reached right now. Please try again in a moment.',
  ),
  upstream_reset: UNAVAILABLE(
    'The application closed the connection',
    'The application behind this page stopped answering in the middle of the request. Please try again.',
  ),
  upstream_timeout: UNAVAILABLE(
    'The application took too long',
    'The application behind this page did not answer in time. Please try again in a moment.',
  ),
  not_ready: UNAVAILABLE('Starting up', 'Gatehouse is still starting. Please try again in a few seconds.'),
  shutting_down: UNAVAILABLE(
    'Restarting',
    'This server is shutting down. Please try again in a few seconds.',
  ),
  store_unavailable: UNAVAILABLE(
    'Your session cannot be checked right now',
    'The session store is unreachable, so sign-ins cannot be checked. Please try again in a moment.',
  ),
  dpop_proof_missing: token('The token is bound to a key, but no single DPoP proof came with it.'),
  dpop_proof_invalid: token('The DPoP proof sent with this request is invalid.'),
  dpop_proof_replayed: token('The DPoP proof sent with this request was already used.'),
  dpop_binding_mismatch: token('The DPoP proof was signed by another key than the token is bound to.'),
  dpop_nonce_required: token('The DPoP proof must carry the server nonce.'),
  dpop_bound_token_as_bearer: token(
    'The token is bound to a key and cannot be sent as a plain bearer token.',
  ),
  dpop_required: token('This address accepts only DPoP-bound tokens.'),
  mtls_certificate_required: token(
    'The token is bound to a client certificate, and this connection did not present one issued by the trusted authority.',
  ),
  mtls_binding_mismatch: token(
    'The token is bound to another client certificate than this connection presented.',
  ),
  session_too_large: {
    title: 'Your session was too large',
    message:
      'Your sign-in carried more data than this service accepts in cookies, so it was cleared. Sign in again; if this keeps happening, tell the service’s administrators (they can store sessions on the server).',
    actions: ['sign_in', 'home'],
  },
  identity_headers_too_large: UNAVAILABLE(
    'Your account has too many groups for this application',
    'The details of your account are larger than this service passes on to the application, so the request was stopped. This is a configuration problem: contact support with the request ID below.',
  ),
  rate_limited: UNAVAILABLE(
    'Too many requests',
    'You (or your application) sent more requests than this page allows in a short time. Wait a moment, then try again.',
  ),
  wrong_host: {
    title: 'Open this page at its own address',
    message: 'This service is reached under another address. Open the link below to continue.',
    actions: ['home'],
  },
  internal_error: UNAVAILABLE(
    'Something went wrong',
    'An unexpected error occurred. Please try again; if it keeps happening, contact support with the request ID below.',
  ),
};

/** The page for `code`; an allow code (never rendered as an error) reads as an internal error. */
export function reasonPage(code: ReasonCode): ReasonPage {
  return (REASON_PAGES as Partial<Record<ReasonCode, ReasonPage>>)[code] ?? REASON_PAGES.internal_error;
}
