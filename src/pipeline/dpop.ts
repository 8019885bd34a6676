/**
 * identify, DPoP step: after a bearer token verified, decide whether the request proved its
 * key (RFC 9449). Per issuer, `bearer[].dpop`:
 * - a token bound to a key (`cnf.jkt`) is accepted only with `Authorization: DPoP` and a valid
 *   proof by that key – a stolen copy alone is useless; as `Bearer` it is refused, always;
 * - `required` refuses an unbound token; `allowed` takes it as a plain bearer token;
 * - `off` takes no DPoP scheme at all.
 * A proof's `jti` is claimed once in the shared store (`SET NX PX` in Redis, so a proof used on
 * one replica is refused on every other; a bounded map for one instance), under a hash.
 *
 * Warm cost: the verified-token cache hit, one proof signature check (the proof key's import is
 * cached by thumbprint), two SHA-256 and the store claim.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
import { createHash } from 'node:crypto';
import type { BearerIssuerConfig, Config } from '../config/schema.ts';
import { GatehouseError, type ReasonCode } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import { StoreUnavailableError } from '../store/store.ts';
import { requestHtu } from '../tokens/dpop-htu.ts';
import { DpopNonces } from '../tokens/dpop-nonce.ts';
import { DpopProofVerifier } from '../tokens/dpop-proof.ts';
import type { VerifiedToken } from '../tokens/verified-token-cache.ts';
import { type DpopChallenge, noteDpopChallenge } from './dpop-challenge.ts';
import type { Identifying } from './runtime.ts';
import type { Scope } from './scope.ts';

interface IssuerDpop {
  readonly mode: BearerIssuerConfig['dpop'];
  readonly algorithms: ReadonlySet<string>;
  /** seconds */
  readonly maxAge: number;
  readonly skew: number;
  /** present with `dpop_nonce: true` */
  readonly nonces: DpopNonces | undefined;
  readonly challenge: DpopChallenge;
}

interface DpopGate {
  readonly issuers: ReadonlyMap<string, IssuerDpop>;
  /** for a request that names no issuer yet (no token): every DPoP issuer's algorithms */
  readonly challenge: DpopChallenge | undefined;
  readonly proofs: DpopProofVerifier;
  readonly failOpen: boolean;
  /** `server.public_url`'s host and scheme: a request for that host was made with that scheme */
  readonly publicHost: string | undefined;
  readonly publicProto: string | undefined;
}

/** One gate per (frozen) config: a reload starts afresh. */
const gates = new WeakMap<Config, DpopGate>();

function gateOf(config: Config): DpopGate {
  let gate = gates.get(config);
  if (gate === undefined) {
    const issuers = new Map<string, IssuerDpop>();
    const algs = new Set<string>();
    let bearer = false;
    for (const cfg of config.bearer) {
      if (cfg.dpop === 'off') continue;
      for (const alg of cfg.dpop_algorithms) algs.add(alg);
      bearer ||= cfg.dpop === 'allowed';
      issuers.set(cfg.issuer, {
        mode: cfg.dpop,
        algorithms: new Set(cfg.dpop_algorithms),
        maxAge: cfg.dpop_max_age / 1000,
        skew: cfg.clock_skew / 1000,
        nonces: cfg.dpop_nonce
          ? new DpopNonces(cfg.dpop_nonce_secrets ?? config.session?.secrets)
          : undefined,
        challenge: { algs: cfg.dpop_algorithms.join(' '), bearer: cfg.dpop === 'allowed' },
      });
    }
    const publicUrl = config.server.public_url ? new URL(config.server.public_url) : undefined;
    // Issuers without DPoP take plain bearer tokens too.
    if (issuers.size < config.bearer.length) bearer = true;
    gate = {
      issuers,
      challenge: issuers.size > 0 ? { algs: [...algs].join(' '), bearer } : undefined,
      proofs: new DpopProofVerifier(),
      failOpen: config.store_fail_open,
      publicHost: publicUrl?.host,
      publicProto: publicUrl?.protocol.slice(0, -1),
    };
    gates.set(config, gate);
  }
  return gate;
}

/** A route that takes bearer tokens met a request without one: its 401 names the DPoP scheme. */
export function noteDpopRoute(scope: Scope, rt: Identifying): void {
  const challenge = gateOf(rt.config).challenge;
  if (challenge !== undefined) noteDpopChallenge(scope, challenge);
}

/**
 * Whether the request proved the key of its verified token; false for a plain bearer token the
 * issuer accepts as such. Settles synchronously (no promise) on that path.
 * @param scheme the token came as `Authorization: DPoP`
 * @param proofs the `DPoP` header: one value, or several joined by node with ", "
 * @throws GatehouseError a `dpop_*` reason, `auth_type_not_allowed` (DPoP to an issuer without
 *   it), `store_unavailable`
 */
export function proveDpop(
  scope: Scope,
  rt: Identifying,
  verified: VerifiedToken,
  token: string,
  scheme: boolean,
  proofs: string | undefined,
): Promise<true> | false {
  const gate = gateOf(rt.config);
  const issuer = gate.issuers.get(verified.issuer);
  const cnf = verified.claims.cnf;
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>).jkt : undefined;
  if (!scheme) {
    if (jkt !== undefined) throw fail(scope, issuer, 'dpop_bound_token_as_bearer', false);
    if (issuer?.mode === 'required') throw fail(scope, issuer, 'dpop_required', false);
    return false;
  }
  if (issuer === undefined)
    throw new GatehouseError('auth_type_not_allowed', 'the token issuer has dpop: off');
  return checkProof(scope, rt, gate, issuer, { jkt, token, proofs });
}

async function checkProof(
  scope: Scope,
  rt: Identifying,
  gate: DpopGate,
  issuer: IssuerDpop,
  presented: { jkt: unknown; token: string; proofs: string | undefined },
): Promise<true> {
  const { proofs, token } = presented;
  // A compact JWS holds no comma: one in the value is two headers joined, or no proof at all.
  if (proofs === undefined || proofs === '' || proofs.includes(','))
    throw fail(scope, issuer, 'dpop_proof_missing', true);
  const now = Date.now();
  // The client's scheme: public_url says it for its own host (a TLS terminator in front that is
  // not a trusted proxy sends no X-Forwarded-Proto); otherwise what `accept` believed.
  const proto = gate.publicHost === scope.host ? gate.publicProto! : scope.proto;
  const nonces = issuer.nonces;
  let proof: { jkt: string; jti: string };
  try {
    proof = gate.proofs.verify(proofs, {
      method: scope.method,
      url: requestHtu(proto, scope.host, scope.target?.path ?? '/'),
      accessToken: token,
      algorithms: issuer.algorithms,
      maxAge: issuer.maxAge,
      skew: issuer.skew,
      now,
      ...(nonces ? { nonceValid: (n: unknown) => nonces.valid(n, now) } : {}),
    });
  } catch (err) {
    if (!(err instanceof GatehouseError)) throw err;
    // The client sees only the reason; which check failed is for the operator (no secret in it).
    rt.log.debug(
      { request_id: scope.requestId, reason: err.code, detail: err.message },
      'DPoP proof refused',
    );
    const nonce = err.code === 'dpop_nonce_required' ? nonces?.issue(now) : undefined;
    noteDpopChallenge(scope, { ...issuer.challenge, scheme: true, ...(nonce ? { nonce } : {}) });
    throw err;
  }
  if (presented.jkt !== proof.jkt) throw fail(scope, issuer, 'dpop_binding_mismatch', true);
  const key = `dpop:${createHash('sha256').update(`${proof.jkt}.${proof.jti}`).digest('base64url')}`;
  let first: boolean;
  try {
    first = await rt.store.claimOnce(key, (issuer.maxAge + 2 * issuer.skew) * 1000);
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    if (gate.failOpen) return true; // the operator chose availability over replay detection
    throw new GatehouseError('store_unavailable', 'the DPoP replay cache is unavailable', { cause: err });
  }
  if (!first) throw fail(scope, issuer, 'dpop_proof_replayed', true);
  return true;
}

/** The error for `code`, its challenge noted for the 401. */
function fail(
  scope: Scope,
  issuer: IssuerDpop | undefined,
  code: ReasonCode,
  scheme: boolean,
): GatehouseError {
  if (issuer !== undefined) noteDpopChallenge(scope, { ...issuer.challenge, scheme });
  return new GatehouseError(code);
}

const bound = new WeakMap<Identity, Identity>();

/** The identity of a token whose key this request proved (memoised, as the token's own). */
export function dpopIdentity(identity: Identity): Identity {
  let id = bound.get(identity);
  if (id === undefined) {
    id = Object.freeze({ ...identity, binding: 'dpop' as const });
    bound.set(identity, id);
  }
  return id;
}
