/**
 * The DPoP half of a 401: `WWW-Authenticate: DPoP algs="…"` on routes whose bearer issuers take
 * DPoP, with `error="invalid_dpop_proof"` for a bad proof, `error="use_dpop_nonce"` plus a
 * `DPoP-Nonce` header when a nonce is demanded, `error="invalid_token"` for a token sent the
 * wrong way; beside the Bearer challenge unless every such issuer requires DPoP.
 * `identify` notes what the request may be told; `respond` asks for the headers.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
import { REASONS, type ReasonCode } from '../errors.ts';
import type { Scope } from './scope.ts';

export interface DpopChallenge {
  /** the algorithms a proof may use, space-separated */
  readonly algs: string;
  /** a plain Bearer token is also accepted: offer that challenge too */
  readonly bearer: boolean;
  /** a fresh server nonce, when the failure asks for one */
  readonly nonce?: string;
  /** the request used the DPoP scheme: a token error belongs in the DPoP challenge */
  readonly scheme?: boolean;
}

/** Only 401s read it, so it stays off the scope's hot shape. */
const noted = new WeakMap<Scope, DpopChallenge>();

export function noteDpopChallenge(scope: Scope, challenge: DpopChallenge): void {
  noted.set(scope, challenge);
}

const PROOF_ERRORS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'dpop_proof_missing',
  'dpop_proof_invalid',
  'dpop_proof_replayed',
  'dpop_binding_mismatch',
]);

export interface DpopAnswer {
  readonly wwwAuthenticate: string[];
  readonly nonce?: string;
}

/**
 * The challenges of a 401 for `reason`, or undefined when the request met no DPoP issuer.
 * @param bearerChallenge the Bearer challenge this reason gets without DPoP
 */
export function dpopAnswer(
  scope: Scope,
  reason: ReasonCode,
  bearerChallenge: string,
): DpopAnswer | undefined {
  const c = noted.get(scope);
  if (c === undefined) return undefined;
  let error: string | undefined;
  if (PROOF_ERRORS.has(reason)) error = 'invalid_dpop_proof';
  else if (reason === 'dpop_nonce_required') error = 'use_dpop_nonce';
  else if (reason === 'dpop_bound_token_as_bearer' || reason === 'dpop_required') error = 'invalid_token';
  else if (c.scheme && reason !== 'no_credentials') error = 'invalid_token';
  const dpop =
    error === undefined
      ? `DPoP algs="${c.algs}"`
      : `DPoP error="${error}", error_description="${REASONS[reason].detail}", algs="${c.algs}"`;
  // Bearer first, as RFC 9449 §7.1's example: a client that reads one challenge keeps working.
  const challenges = c.bearer
    ? [error === undefined ? bearerChallenge : 'Bearer realm="gatehouse"', dpop]
    : [dpop];
  return c.nonce === undefined
    ? { wwwAuthenticate: challenges }
    : { wwwAuthenticate: challenges, nonce: c.nonce };
}
