/**
 * The client certificate of a TLS connection Gatehouse terminates (`server.tls.client_ca_file`),
 * read once per connection: its subject, SANs, SHA-256 fingerprint and whether it chains to the
 * configured CA. Behind an edge proxy the certificate ends at the proxy and nothing is read here.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface ClientCertificate {
  /** verified against `server.tls.client_ca_file` during the handshake */
  readonly authorized: boolean;
  /** the subject DN's attributes, `TYPE=value` each, in certificate order */
  readonly subject: readonly string[];
  /** the subject DN as one line, `CN=…, O=…` (for explain and logs) */
  readonly subjectText: string;
  /** subjectAltName entries, `DNS:…`, `URI:…`, `email:…`, `IP Address:…` */
  readonly sans: readonly string[];
  /** SHA-256 of the DER, lower-case hex without separators */
  readonly fingerprint: string;
  /** SHA-256 of the DER, base64url: RFC 8705's `x5t#S256` */
  readonly thumbprint: string;
}

const bySocket = new WeakMap<object, ClientCertificate | null>();

/** The certificate the peer presented on this connection, or undefined (none, or plain HTTP). */
export function clientCertificateOf(socket: Socket | TLSSocket): ClientCertificate | undefined {
  const tls = socket as TLSSocket;
  if (!tls.encrypted || typeof tls.getPeerX509Certificate !== 'function') return undefined;
  let cert = bySocket.get(tls);
  if (cert === undefined) {
    const x509 = tls.getPeerX509Certificate();
    cert = x509 ? describe(x509, tls.authorized === true) : null;
    bySocket.set(tls, cert);
  }
  return cert ?? undefined;
}

export function describe(x509: X509Certificate, authorized: boolean): ClientCertificate {
  const digest = createHash('sha256').update(x509.raw).digest();
  const subject = x509.subject.split('\n').filter((line) => line.length > 0);
  return Object.freeze({
    authorized,
    subject: Object.freeze(subject),
    subjectText: subject.join(', '),
    sans: Object.freeze(parseSans(x509.subjectAltName ?? '')),
    fingerprint: digest.toString('hex'),
    thumbprint: digest.toString('base64url'),
  });
}

/**
 * node's `subjectAltName` text: `TYPE:value` entries joined by `, `, a value with special
 * characters JSON-quoted (so a crafted SAN cannot smuggle in a second entry).
 */
export function parseSans(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon === -1) break;
    const type = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      } catch {
        break; // unreadable: stop rather than guess
      }
      next = end + 1;
    } else {
      const comma = text.indexOf(', ', colon + 1);
      next = comma === -1 ? text.length : comma;
      value = text.slice(colon + 1, next);
    }
    out.push(`${type}:${value}`);
    i = text.startsWith(', ', next) ? next + 2 : next;
  }
  return out;
}
