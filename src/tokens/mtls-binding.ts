/**
 * Certificate-bound access tokens: a token whose `cnf` names `x5t#S256` is good only on a
 * connection whose client certificate – verified against `server.tls.client_ca_file` – has that
 * SHA-256 thumbprint. A copy of the token without the certificate's private key is useless.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
import { timingSafeEqual } from 'node:crypto';
import { GatehouseError } from '../errors.ts';
import type { ClientCertificate } from '../http/client-certificate.ts';

/** The token's `cnf["x5t#S256"]`, when it has one (a non-string is refused as malformed). */
export function certificateThumbprint(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = Object.hasOwn(claims, 'cnf') ? claims.cnf : undefined;
  if (cnf === null || typeof cnf !== 'object' || !Object.hasOwn(cnf, 'x5t#S256')) return undefined;
  const value = (cnf as Record<string, unknown>)['x5t#S256'];
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(value))
    throw new GatehouseError('token_malformed', 'the "cnf.x5t#S256" claim is not a SHA-256 thumbprint');
  return value;
}

/**
 * @throws GatehouseError `mtls_certificate_required` (no certificate, or one the CA did not
 *   issue) or `mtls_binding_mismatch` (another certificate)
 */
export function checkCertificateBinding(thumbprint: string, cert: ClientCertificate | undefined): void {
  if (cert === undefined || !cert.authorized)
    throw new GatehouseError(
      'mtls_certificate_required',
      cert ? 'the client certificate is not issued by the trusted CA' : 'no client certificate',
    );
  const a = Buffer.from(thumbprint);
  const b = Buffer.from(cert.thumbprint);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new GatehouseError('mtls_binding_mismatch');
}
