/**
 * The adversarial token catalogue (issue 10): one row per attack from the JWT BCP (RFC 8725)
 * and the OAuth security BCP (RFC 9700), each against the real verifier with the real JWKS of
 * the dev IdP (oidc-provider), each with the exact reason code it must be refused with. An
 * attacker server stands behind every URL a token could name (`jku`, `x5u`, `iss`); it must
 * see zero requests. A second part throws generated garbage and single-character mutations of
 * a valid token at the same verifier: only coded `GatehouseError`s may come back.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8725
 * @see https://www.rfc-editor.org/rfc/rfc9700
 */
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Dispatcher } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { GatehouseError } from '../../src/errors.ts';
import { silentLog } from '../../src/observe/logger.ts';
import { type BearerVerifier, createBearerVerifier } from '../../src/tokens/bearer-verifier.ts';
import { createOutboundDispatcher } from '../../src/util/outbound.ts';
import { issuerConfig, machineToken, startServer, type TestServer } from './bearer-helpers.ts';

const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Sign header and payload given as raw JSON text (so duplicate names survive) with a private JWK. */
function signText(jwk: JWK, headerJson: string, payloadJson: string): string {
  const input = `${enc(headerJson)}.${enc(payloadJson)}`;
  const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
  const sig =
    jwk.kty === 'EC'
      ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${sig.toString('base64url')}`;
}

interface Row {
  name: string;
  /** RFC section the row comes from */
  ref: string;
  token: () => string | Promise<string>;
  expect: string;
}

describe('adversarial token catalogue (RFC 8725, RFC 9700) against the dev IdP', () => {
  let idp: DevIdp;
  let dispatcher: Dispatcher;
  let verifier: BearerVerifier;
  let es: JWK;
  let rs: JWK;
  let attacker: TestServer;
  let attackerJwk: JWK;
  let attackerPub: JWK;

  before(async () => {
    idp = await startDevIdp();
    dispatcher = createOutboundDispatcher({ timeoutMs: 2000 });
    es = idp.keys.find((k) => k.alg === 'ES256')!;
    rs = idp.keys.find((k) => k.alg === 'RS256')!;
    verifier = createBearerVerifier({
      issuers: [
        issuerConfig({
          issuer: idp.issuer,
          algorithms: ['ES256', 'RS256'],
          typ: 'at+jwt',
          required_claims: ['sub'],
        }),
      ],
      cacheSize: 0, // every row does the full verification
      dispatcher,
      log: silentLog,
    });
    await verifier.start();
    attacker = await startServer((_req, res) => res.writeHead(200).end('{"keys":[]}'));
    const pair = await generateKeyPair('ES256', { extractable: true });
    attackerJwk = { ...(await exportJWK(pair.privateKey)), alg: 'ES256', kid: 'attacker' };
    attackerPub = { ...(await exportJWK(pair.publicKey)), alg: 'ES256', kid: 'attacker' };
  });
  after(async () => {
    verifier.close();
    await idp.close();
    await attacker.close();
    await dispatcher.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  /** Valid access-token claims for the dev IdP; `over` replaces or (undefined) removes members. */
  const claims = (over: Record<string, unknown> = {}) => {
    const c: Record<string, unknown> = {
      iss: idp.issuer,
      aud: 'api://demo',
      sub: 'machine',
      client_id: 'machine',
      iat: now(),
      exp: now() + 600,
      ...over,
    };
    for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
    return c;
  };
  const hdr = (over: Record<string, unknown> = {}, key: JWK = es) => ({
    alg: key.alg,
    kid: key.kid,
    typ: 'at+jwt',
    ...over,
  });
  /** Signed with the IdP's own ES256 key: only the named defect is wrong. */
  const good = (payload: Record<string, unknown> = claims(), header: Record<string, unknown> = hdr()) =>
    signText(es, JSON.stringify(header), JSON.stringify(payload));
  const unsigned = (header: Record<string, unknown>, payload = claims(), sig = '') =>
    `${enc(header)}.${enc(payload)}.${sig}`;
  const hs256 = (secret: string | Buffer, header: Record<string, unknown>) => {
    const input = `${enc(header)}.${enc(claims())}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };

  const rows: Row[] = [
    // baselines: the harness itself is sound
    {
      name: 'a real client_credentials access token',
      ref: 'RFC 9068',
      token: () => machineToken(idp),
      expect: 'ok',
    },
    { name: 'a crafted, correctly signed ES256 token', ref: 'baseline', token: () => good(), expect: 'ok' },
    {
      name: 'RS256 with the IdP RSA key',
      ref: 'baseline',
      token: () => signText(rs, JSON.stringify(hdr({}, rs)), JSON.stringify(claims())),
      expect: 'ok',
    },
    {
      name: 'typ application/at+jwt, any case',
      ref: 'RFC 9068 §2.1',
      token: () => good(claims(), hdr({ typ: 'Application/AT+JWT' })),
      expect: 'ok',
    },

    // alg none (RFC 8725 §2.1, §3.1)
    {
      name: 'alg "none", empty signature',
      ref: 'RFC 8725 §3.1',
      token: () => unsigned(hdr({ alg: 'none' })),
      expect: 'alg_not_allowed',
    },
    {
      name: 'alg "None"',
      ref: 'RFC 8725 §3.1',
      token: () => unsigned(hdr({ alg: 'None' })),
      expect: 'alg_not_allowed',
    },
    {
      name: 'alg "NONE"',
      ref: 'RFC 8725 §3.1',
      token: () => unsigned(hdr({ alg: 'NONE' })),
      expect: 'alg_not_allowed',
    },
    {
      name: 'alg "nOnE" with a signature copied from a valid token',
      ref: 'RFC 8725 §3.1',
      token: () => unsigned(hdr({ alg: 'nOnE' }), claims(), good().split('.')[2]),
      expect: 'alg_not_allowed',
    },
    {
      name: 'alg missing',
      ref: 'RFC 7515 §4.1.1',
      token: () => unsigned(hdr({ alg: undefined })),
      expect: 'alg_not_allowed',
    },
    {
      name: 'alg as an array',
      ref: 'RFC 7515 §4.1.1',
      token: () => unsigned(hdr({ alg: ['ES256'] }), claims(), 'AAAA'),
      expect: 'alg_not_allowed',
    },

    // algorithm confusion (RFC 8725 §2.1, §3.1)
    {
      name: 'HS256 keyed with the RSA public key (PEM)',
      ref: 'RFC 8725 §2.1',
      token: () =>
        hs256(
          createPublicKey({ key: rs as never, format: 'jwk' }).export({
            type: 'spki',
            format: 'pem',
          }) as string,
          hdr({ alg: 'HS256' }, rs),
        ),
      expect: 'alg_not_allowed',
    },
    {
      name: 'HS256 keyed with the RSA public key (DER)',
      ref: 'RFC 8725 §2.1',
      token: () =>
        hs256(
          createPublicKey({ key: rs as never, format: 'jwk' }).export({ type: 'spki', format: 'der' }),
          hdr({ alg: 'HS256' }, rs),
        ),
      expect: 'alg_not_allowed',
    },
    {
      name: 'HS256 keyed with the JWK "n"',
      ref: 'RFC 8725 §2.1',
      token: () => hs256(String(rs.n), hdr({ alg: 'HS256' }, rs)),
      expect: 'alg_not_allowed',
    },
    {
      name: 'PS256 (an algorithm not configured)',
      ref: 'RFC 8725 §3.1',
      token: () => unsigned(hdr({ alg: 'PS256' }, rs), claims(), 'AAAA'),
      expect: 'alg_not_allowed',
    },
    {
      name: 'alg RS256 naming the EC key (kid/alg mismatch)',
      ref: 'RFC 8725 §3.1',
      token: () => signText(es, JSON.stringify(hdr({ alg: 'RS256' })), JSON.stringify(claims())),
      expect: 'unknown_kid',
    },
    {
      name: 'ES256 signature in DER instead of IEEE P1363',
      ref: 'RFC 7518 §3.4',
      token: () => {
        const input = `${enc(hdr())}.${enc(claims())}`;
        const der = sign('sha256', Buffer.from(input), createPrivateKey({ key: es as never, format: 'jwk' }));
        return `${input}.${der.toString('base64url')}`;
      },
      expect: 'bad_signature',
    },
    {
      name: 'signature stripped',
      ref: 'RFC 8725 §3.1',
      token: () => `${good().split('.').slice(0, 2).join('.')}.`,
      expect: 'bad_signature',
    },

    // kid injection (RFC 8725 §3.10)
    {
      name: 'kid "../../etc/passwd"',
      ref: 'RFC 8725 §3.10',
      token: () =>
        signText(attackerJwk, JSON.stringify(hdr({ kid: '../../etc/passwd' })), JSON.stringify(claims())),
      expect: 'unknown_kid',
    },
    {
      name: 'kid "\' OR 1=1--"',
      ref: 'RFC 8725 §3.10',
      token: () =>
        signText(attackerJwk, JSON.stringify(hdr({ kid: "' OR 1=1--" })), JSON.stringify(claims())),
      expect: 'unknown_kid',
    },
    {
      name: 'kid "/dev/null" with an HMAC over empty key',
      ref: 'RFC 8725 §3.10',
      token: () => hs256('', hdr({ alg: 'HS256', kid: '/dev/null' })),
      expect: 'alg_not_allowed',
    },
    {
      name: 'kid with NUL and CRLF',
      ref: 'RFC 8725 §3.10',
      token: () =>
        signText(
          attackerJwk,
          JSON.stringify(hdr({ kid: 'a\u0000b\r\nx-admin: 1' })),
          JSON.stringify(claims()),
        ),
      expect: 'unknown_kid',
    },
    {
      name: 'issue-10 kid as a number',
      ref: 'RFC 7515 §4.1.4',
      token: () => signText(attackerJwk, JSON.stringify(hdr({ kid: 1 })), JSON.stringify(claims())),
      expect: 'token_malformed',
    },
    {
      name: 'issue-10 kid as an object',
      ref: 'RFC 7515 §4.1.4',
      token: () => signText(es, JSON.stringify(hdr({ kid: { $ne: null } })), JSON.stringify(claims())),
      expect: 'token_malformed',
    },

    // embedded and remote keys are never used (RFC 8725 §3.10, RFC 7515 §4.1.2–§4.1.6)
    {
      name: 'jku to the attacker, attacker kid',
      ref: 'RFC 8725 §3.10',
      token: () =>
        signText(
          attackerJwk,
          JSON.stringify(hdr({ kid: 'attacker', jku: `${attacker.url}/jwks` })),
          JSON.stringify(claims()),
        ),
      expect: 'unknown_kid',
    },
    {
      name: 'x5u to the attacker',
      ref: 'RFC 7515 §4.1.5',
      token: () =>
        signText(
          attackerJwk,
          JSON.stringify(hdr({ kid: es.kid, x5u: `${attacker.url}/cert.pem` })),
          JSON.stringify(claims()),
        ),
      expect: 'bad_signature',
    },
    {
      name: 'x5c with a self-made chain',
      ref: 'RFC 7515 §4.1.6',
      token: () =>
        signText(
          attackerJwk,
          JSON.stringify(hdr({ kid: es.kid, x5c: ['MIIBszCCAVmgAwIBAgIU'] })),
          JSON.stringify(claims()),
        ),
      expect: 'bad_signature',
    },
    {
      name: 'jwk: the attacker public key embedded, no kid',
      ref: 'RFC 7515 §4.1.3',
      token: () =>
        signText(
          attackerJwk,
          JSON.stringify(hdr({ kid: undefined, jwk: attackerPub })),
          JSON.stringify(claims()),
        ),
      expect: 'bad_signature',
    },
    {
      name: 'jwk embedded with the IdP kid',
      ref: 'RFC 7515 §4.1.3',
      token: () =>
        signText(
          attackerJwk,
          JSON.stringify(hdr({ jwk: { ...attackerPub, kid: es.kid } })),
          JSON.stringify(claims()),
        ),
      expect: 'bad_signature',
    },

    // crit (RFC 7515 §4.1.11)
    {
      name: 'crit naming an extension',
      ref: 'RFC 7515 §4.1.11',
      token: () => good(claims(), hdr({ crit: ['urn:x'], 'urn:x': 1 })),
      expect: 'crit_unsupported',
    },
    {
      name: 'crit: ["b64"] with b64 false',
      ref: 'RFC 7797',
      token: () => good(claims(), hdr({ crit: ['b64'], b64: false })),
      expect: 'crit_unsupported',
    },
    {
      name: 'crit: [] (empty is invalid too)',
      ref: 'RFC 7515 §4.1.11',
      token: () => good(claims(), hdr({ crit: [] })),
      expect: 'crit_unsupported',
    },
    {
      name: 'crit naming a standard header',
      ref: 'RFC 7515 §4.1.11',
      token: () => good(claims(), hdr({ crit: ['alg'] })),
      expect: 'crit_unsupported',
    },

    // duplicate member names (RFC 8725 §3.1, RFC 7515 §5.2): signed validly, still refused
    {
      name: 'issue-10 header with "alg" twice',
      ref: 'RFC 7515 §5.2',
      token: () =>
        signText(
          es,
          `{"alg":"none","kid":"${es.kid}","typ":"at+jwt","alg":"ES256"}`,
          JSON.stringify(claims()),
        ),
      expect: 'token_malformed',
    },
    {
      name: 'header with "kid" twice, one escaped',
      ref: 'RFC 7515 §5.2',
      token: () =>
        signText(
          es,
          `{"alg":"ES256","kid":"x","typ":"at+jwt","\\u006bid":"${es.kid}"}`,
          JSON.stringify(claims()),
        ),
      expect: 'token_malformed',
    },
    {
      name: 'issue-10 payload with "sub" twice',
      ref: 'RFC 7519 §4',
      token: () =>
        signText(es, JSON.stringify(hdr()), `${JSON.stringify(claims()).slice(0, -1)},"sub":"admin"}`),
      expect: 'token_malformed',
    },
    {
      name: 'payload with "aud" twice',
      ref: 'RFC 7519 §4',
      token: () => signText(es, JSON.stringify(hdr()), `{"aud":"other",${JSON.stringify(claims()).slice(1)}`),
      expect: 'token_malformed',
    },

    // size
    {
      name: 'a 17 KB token',
      ref: 'RFC 8725 §3.6',
      token: () => good(claims({ pad: 'x'.repeat(17 * 1024) })),
      expect: 'token_too_large',
    },
    {
      name: 'a 1 MB token',
      ref: 'RFC 8725 §3.6',
      token: () => `${'a'.repeat(1 << 20)}.b.c`,
      expect: 'token_too_large',
    },
    {
      name: 'a 12 KB token under the limit',
      ref: 'RFC 8725 §3.6',
      token: () => good(claims({ pad: 'x'.repeat(9 * 1024) })),
      expect: 'ok',
    },

    // exp and other time claims (RFC 7519 §4.1.4)
    {
      name: 'exp missing',
      ref: 'RFC 9068 §2.2',
      token: () => good(claims({ exp: undefined })),
      expect: 'missing_claim',
    },
    {
      name: 'exp a numeric string',
      ref: 'RFC 7519 §2',
      token: () => good(claims({ exp: String(now() + 600) })),
      expect: 'token_malformed',
    },
    {
      name: 'exp a boolean',
      ref: 'RFC 7519 §2',
      token: () => good(claims({ exp: true })),
      expect: 'token_malformed',
    },
    {
      name: 'exp null',
      ref: 'RFC 7519 §2',
      token: () => good(claims({ exp: null })),
      expect: 'token_malformed',
    },
    {
      name: 'exp an array',
      ref: 'RFC 7519 §2',
      token: () => good(claims({ exp: [now() + 600] })),
      expect: 'token_malformed',
    },
    {
      name: 'exp negative',
      ref: 'RFC 7519 §4.1.4',
      token: () => good(claims({ exp: -1 })),
      expect: 'token_expired',
    },
    {
      name: 'exp zero',
      ref: 'RFC 7519 §4.1.4',
      token: () => good(claims({ exp: 0 })),
      expect: 'token_expired',
    },
    {
      name: 'exp a past float',
      ref: 'RFC 7519 §2',
      token: () => good(claims({ exp: now() - 120.5 })),
      expect: 'token_expired',
    },
    {
      name: 'exp a future float (NumericDate allows fractions)',
      ref: 'RFC 7519 §2',
      token: () => good(claims({ exp: now() + 600.25 })),
      expect: 'ok',
    },
    {
      name: 'issue-10 exp 1e400 (parses as Infinity: never expires)',
      ref: 'RFC 7519 §2',
      token: () =>
        signText(
          es,
          JSON.stringify(hdr()),
          JSON.stringify(claims({ exp: 1 })).replace('"exp":1', '"exp":1e400'),
        ),
      expect: 'token_malformed',
    },
    {
      name: 'exp far in the future but finite',
      ref: 'RFC 7519 §2',
      token: () => good(claims({ exp: 1e15 })),
      expect: 'ok',
    },
    {
      name: 'nbf in the future beyond the skew',
      ref: 'RFC 7519 §4.1.5',
      token: () => good(claims({ nbf: now() + 3600 })),
      expect: 'token_not_yet_valid',
    },
    {
      name: 'nbf a string',
      ref: 'RFC 7519 §4.1.5',
      token: () => good(claims({ nbf: 'yesterday' })),
      expect: 'token_malformed',
    },
    {
      name: 'iat in the future beyond the skew',
      ref: 'RFC 7519 §4.1.6',
      token: () => good(claims({ iat: now() + 3600 })),
      expect: 'token_not_yet_valid',
    },
    {
      name: 'iat a string',
      ref: 'RFC 7519 §4.1.6',
      token: () => good(claims({ iat: 'now' })),
      expect: 'token_malformed',
    },

    // aud (RFC 7519 §4.1.3, RFC 9700 §2.3)
    {
      name: 'aud an empty array',
      ref: 'RFC 7519 §4.1.3',
      token: () => good(claims({ aud: [] })),
      expect: 'audience_mismatch',
    },
    {
      name: 'aud an array with the right audience and others',
      ref: 'RFC 7519 §4.1.3',
      token: () => good(claims({ aud: ['api://other', 'api://demo'] })),
      expect: 'ok',
    },
    {
      name: 'aud a nested array',
      ref: 'RFC 7519 §4.1.3',
      token: () => good(claims({ aud: [['api://demo']] })),
      expect: 'audience_mismatch',
    },
    {
      name: 'aud a number',
      ref: 'RFC 7519 §4.1.3',
      token: () => good(claims({ aud: 1 })),
      expect: 'audience_mismatch',
    },
    {
      name: 'aud another API',
      ref: 'RFC 9700 §2.3',
      token: () => good(claims({ aud: 'api://other' })),
      expect: 'audience_mismatch',
    },
    {
      name: 'aud differing in case',
      ref: 'RFC 7519 §4.1.3',
      token: () => good(claims({ aud: 'API://DEMO' })),
      expect: 'audience_mismatch',
    },
    {
      name: 'aud with a trailing slash',
      ref: 'RFC 7519 §4.1.3',
      token: () => good(claims({ aud: 'api://demo/' })),
      expect: 'audience_mismatch',
    },
    {
      name: 'aud missing',
      ref: 'RFC 9068 §2.2',
      token: () => good(claims({ aud: undefined })),
      expect: 'missing_claim',
    },

    // iss (RFC 8725 §3.8, RFC 9700 §4.4 mix-up)
    {
      name: 'iss with a trailing slash',
      ref: 'RFC 8725 §3.8',
      token: () => good(claims({ iss: `${idp.issuer}/` })),
      expect: 'issuer_mismatch',
    },
    {
      name: 'iss of the attacker (no network call)',
      ref: 'RFC 9700 §4.4',
      token: () =>
        signText(
          attackerJwk,
          JSON.stringify(hdr({ kid: 'attacker', jku: `${attacker.url}/jwks` })),
          JSON.stringify(claims({ iss: attacker.url })),
        ),
      expect: 'issuer_mismatch',
    },
    {
      name: 'iss differing in case',
      ref: 'RFC 8725 §3.8',
      token: () => good(claims({ iss: idp.issuer.toUpperCase() })),
      expect: 'issuer_mismatch',
    },
    {
      name: 'iss as an array',
      ref: 'RFC 7519 §4.1.1',
      token: () => good(claims({ iss: [idp.issuer] })),
      expect: 'issuer_mismatch',
    },
    {
      name: 'iss missing',
      ref: 'RFC 9068 §2.2',
      token: () => good(claims({ iss: undefined })),
      expect: 'issuer_mismatch',
    },

    // nested JWTs (RFC 7519 §5.2, RFC 8725 §2.8)
    {
      name: 'cty JWT with an inner JWT as the payload',
      ref: 'RFC 7519 §5.2',
      token: () => `${enc(hdr({ cty: 'JWT' }))}.${enc(good())}.AAAA`,
      expect: 'token_malformed',
    },
    {
      name: 'cty JWT, inner JWT as the signed payload bytes',
      ref: 'RFC 8725 §2.8',
      token: () => signText(es, JSON.stringify(hdr({ cty: 'JWT' })), good()),
      expect: 'token_malformed',
    },
    {
      name: 'a JWT string as a JSON payload claim only',
      ref: 'RFC 8725 §2.8',
      token: () => good(claims({ sub: good() })),
      expect: 'ok',
    },

    // ID token as access token (RFC 9068 §2.1, RFC 8725 §3.11)
    {
      name: 'an ID token (typ JWT, aud = client_id, nonce)',
      ref: 'RFC 8725 §3.11',
      token: () => good(claims({ aud: idp.clientId, nonce: 'n', azp: idp.clientId }), hdr({ typ: 'JWT' })),
      expect: 'typ_mismatch',
    },
    {
      name: 'an ID token without typ, but with the API audience',
      ref: 'RFC 9068 §4',
      token: () => good(claims({ nonce: 'n' }), hdr({ typ: undefined })),
      expect: 'typ_mismatch',
    },
    {
      name: 'typ "at+jwt; x" (parameters are not the type)',
      ref: 'RFC 9068 §2.1',
      token: () => good(claims(), hdr({ typ: 'at+jwt;x' })),
      expect: 'typ_mismatch',
    },
    {
      name: 'a logout token (typ logout+jwt)',
      ref: 'OIDC BCL §2.4',
      token: () => good(claims({ events: {} }), hdr({ typ: 'logout+jwt' })),
      expect: 'typ_mismatch',
    },

    // required claims and shape
    {
      name: 'sub missing (required by config)',
      ref: 'RFC 9068 §2.2',
      token: () => good(claims({ sub: undefined })),
      expect: 'missing_claim',
    },
    {
      name: 'payload signed by the IdP, then edited',
      ref: 'RFC 7515 §5.2',
      token: () => {
        const [h, , s] = good().split('.');
        return `${h}.${enc(claims({ sub: 'admin' }))}.${s}`;
      },
      expect: 'bad_signature',
    },
    {
      name: 'whitespace inside the token',
      ref: 'RFC 7515 §7.1',
      token: () => good().replace('.', ' .'),
      expect: 'token_malformed',
    },
    {
      name: 'four segments (a JWE-like shape)',
      ref: 'RFC 7516 §7.1',
      token: () => `${good()}.AAAA`,
      expect: 'token_malformed',
    },
    { name: 'padding characters', ref: 'RFC 7515 §2', token: () => `${good()}==`, expect: 'token_malformed' },
  ];

  for (const row of rows) {
    it(`${row.name} → ${row.expect} (${row.ref})`, async () => {
      const token = await row.token();
      let got: string;
      try {
        await verifier.verify(token);
        got = 'ok';
      } catch (err) {
        assert.ok(err instanceof GatehouseError, `not a GatehouseError: ${String(err)}`);
        assert.equal(err.status, 401);
        got = err.code;
      }
      assert.equal(got, row.expect);
    });
  }

  it('the attacker server saw zero requests', () => {
    assert.equal(attacker.hits.size, 0, JSON.stringify([...attacker.hits]));
  });

  const TOKEN_CODES = new Set([
    'token_malformed',
    'token_too_large',
    'token_expired',
    'token_not_yet_valid',
    'bad_signature',
    'issuer_mismatch',
    'audience_mismatch',
    'alg_not_allowed',
    'unknown_kid',
    'typ_mismatch',
    'missing_claim',
    'crit_unsupported',
  ]);
  async function refusal(token: string): Promise<string> {
    try {
      await verifier.verify(token);
    } catch (err) {
      assert.ok(err instanceof GatehouseError, `escaped: ${String(err)}`);
      assert.ok(TOKEN_CODES.has(err.code), err.code);
      return err.code;
    }
    return 'ok';
  }

  it('property: every single-character mutation of a valid token is refused with a token code', async () => {
    const token = good();
    const alphabet = 'Aa0_-.=+/ eyJ';
    let ok = 0;
    for (let i = 0; i < token.length; i++) {
      const c = alphabet[i % alphabet.length] === token[i] ? 'B' : alphabet[i % alphabet.length]!;
      const code = await refusal(`${token.slice(0, i)}${c}${token.slice(i + 1)}`);
      // a change within the unused low bits of the last base64url character of a segment can
      // decode to the same bytes; that token is the same token, and may verify
      if (code === 'ok') ok++;
    }
    assert.ok(ok <= 3, `${ok} mutations verified`);
  });

  it('property: generated headers and payloads with the right issuer never escape a GatehouseError', async () => {
    const json = fc.jsonValue({ maxDepth: 2 });
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('alg', 'kid', 'typ', 'crit', 'cty', 'jku', 'b64', 'zip', 'enc'), json, {
          maxKeys: 5,
        }),
        fc.dictionary(fc.constantFrom('aud', 'exp', 'nbf', 'iat', 'sub', 'client_id', 'azp', 'jti'), json, {
          maxKeys: 6,
        }),
        fc.boolean(),
        async (header, payload, signIt) => {
          const h = { alg: 'ES256', kid: es.kid, typ: 'at+jwt', ...header };
          const p = { iss: idp.issuer, ...payload };
          const token = signIt
            ? signText(es, JSON.stringify(h), JSON.stringify(p))
            : unsigned(h, p as never, 'AAAA');
          await refusal(token);
        },
      ),
      { seed: 30, numRuns: 300 },
    );
  });

  it('property: arbitrary strings never escape a GatehouseError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (s) => {
        const code = await refusal(s);
        assert.notEqual(code, 'ok');
      }),
      { seed: 31, numRuns: 300 },
    );
  });

  it('a burst of random kids caused at most one JWKS refetch, and no key ever came from a token', () => {
    assert.ok((idp.hits.get('/jwks') ?? 0) <= 2, `jwks fetched ${idp.hits.get('/jwks')} times`);
  });
});
