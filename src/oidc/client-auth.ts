/**
 * Client authentication at the token endpoint, as configured by
 * `oidc.token_endpoint_auth_method`. Checked once, when the client is built: a missing secret
 * or an unreadable private key is a config error, never a failed login hours later.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication
 */
import { createPrivateKey, type KeyObject, type webcrypto } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import type { OidcConfig } from '../config/schema.ts';

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

/** @throws TypeError `ERR_INVALID_ARG_VALUE` naming the missing or bad option */
export function createClientAuth(oidc: OidcConfig): oauth.ClientAuth {
  switch (oidc.token_endpoint_auth_method) {
    case 'client_secret_basic':
    case 'client_secret_post': {
      if (!oidc.client_secret) {
        throw invalid(`"oidc.client_secret" is required for ${oidc.token_endpoint_auth_method}`);
      }
      return oidc.token_endpoint_auth_method === 'client_secret_basic'
        ? oauth.ClientSecretBasic(oidc.client_secret)
        : oauth.ClientSecretPost(oidc.client_secret);
    }
    case 'private_key_jwt': {
      if (!oidc.private_key) throw invalid('"oidc.private_key" is required for private_key_jwt');
      return oauth.PrivateKeyJwt(loadPrivateKey(oidc.private_key));
    }
    case 'none':
      return oauth.None();
  }
}

/** A private JWK (JSON) or PKCS#8 PEM as the non-extractable signing key oauth4webapi wants. */
function loadPrivateKey(text: string): oauth.PrivateKey {
  let key: KeyObject;
  let kid: string | undefined;
  let alg: string | undefined;
  try {
    if (text.trimStart().startsWith('{')) {
      const jwk = JSON.parse(text) as { kid?: unknown; alg?: unknown };
      kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
      alg = typeof jwk.alg === 'string' ? jwk.alg : undefined;
      key = createPrivateKey({ key: jwk as never, format: 'jwk' });
    } else {
      key = createPrivateKey(text);
    }
  } catch (err) {
    throw Object.assign(invalid('"oidc.private_key" is not a private JWK or PKCS#8 PEM key'), { cause: err });
  }
  const params = webCryptoParams(key, alg);
  const cryptoKey = key.toCryptoKey(params, false, ['sign']);
  return kid ? { key: cryptoKey, kid } : { key: cryptoKey };
}

function webCryptoParams(
  key: KeyObject,
  alg: string | undefined,
): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm {
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const hash = `SHA-${(alg ?? 'RS256').slice(2)}`;
      return alg?.startsWith('PS') ? { name: 'RSA-PSS', hash } : { name: 'RSASSA-PKCS1-v1_5', hash };
    }
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const namedCurve = curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : 'P-256';
      return { name: 'ECDSA', namedCurve };
    }
    case 'ed25519':
      return { name: 'Ed25519' };
    default:
      throw invalid(`"oidc.private_key" has an unsupported key type "${key.asymmetricKeyType}"`);
  }
}
