/**
 * `client_certificate: { subjects, sans, fingerprints }` – the connection's TLS client
 * certificate, verified against `server.tls.client_ca_file`, matches every list given (any entry
 * of each). Only a certificate the CA issued counts: one that merely completed the handshake
 * (`client_certificate: optional`) matches nothing. Behind an edge proxy Gatehouse sees no
 * certificate, so the rule matches nothing there.
 *
 * - `subjects`: a DN such as `CN=agent-1, O=Example`; its attributes compare as a set (order and
 *   spaces around `,` and `=` aside), attribute names case-insensitively, values exactly.
 * - `sans`: `DNS:name` (case-insensitive), `URI:…`, `email:…`, `IP Address:…` (exact).
 * - `fingerprints`: SHA-256 of the DER as hex (`AB:CD:…` or `abcd…`) or base64url (`x5t#S256`).
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
import type { ClientCertificate } from '../../http/client-certificate.ts';
import { type Criterion, invalidValue } from './criterion.ts';

export interface ClientCertificateRule {
  readonly subjects?: readonly string[];
  readonly sans?: readonly string[];
  readonly fingerprints?: readonly string[];
}

export function compileClientCertificate(rule: ClientCertificateRule): Criterion {
  const subjects = rule.subjects?.map((s) => subjectKey(parseDn(s, 'client_certificate.subjects')));
  const sans = rule.sans && new Set(rule.sans.map((s) => sanKey(s, 'client_certificate.sans')));
  const fingerprints = rule.fingerprints && new Set(rule.fingerprints.map(fingerprintHex));
  return (_identity, request) => {
    const cert = request?.clientCertificate;
    if (cert === undefined || !cert.authorized) return false;
    return matchesCertificate(cert, subjects, sans, fingerprints);
  };
}

function matchesCertificate(
  cert: ClientCertificate,
  subjects: readonly string[] | undefined,
  sans: ReadonlySet<string> | undefined,
  fingerprints: ReadonlySet<string> | undefined,
): boolean {
  if (subjects && !subjects.includes(subjectKey(cert.subject))) return false;
  if (sans && !cert.sans.some((san) => sans.has(sanKey(san)))) return false;
  if (fingerprints && !fingerprints.has(cert.fingerprint)) return false;
  return true;
}

/** `CN=a, O=b` → its attributes; a `\,` stays inside a value. */
function parseDn(dn: string, key: string): string[] {
  const parts = dn.split(/(?<!\\),/).map((p) => p.trim());
  for (const part of parts)
    if (!/^[A-Za-z][A-Za-z0-9.]*\s*=/.test(part))
      throw invalidValue(key, `"${dn}" is not a DN such as CN=agent-1, O=Example`);
  return parts;
}

/** One comparable string for a set of `TYPE=value` attributes. */
function subjectKey(attributes: readonly string[]): string {
  return attributes
    .map((a) => {
      const eq = a.indexOf('=');
      return `${a.slice(0, eq).trim().toUpperCase()}=${a.slice(eq + 1).trim()}`;
    })
    .sort()
    .join('\n');
}

function sanKey(san: string, key?: string): string {
  const colon = san.indexOf(':');
  if (colon <= 0) {
    if (key)
      throw invalidValue(key, `"${san}" must be TYPE:value, such as DNS:agent.example or URI:spiffe://…`);
    return san;
  }
  const type = san.slice(0, colon).trim().toLowerCase();
  const value = san.slice(colon + 1).trim();
  return `${type}:${type === 'dns' ? value.toLowerCase() : value}`;
}

function fingerprintHex(value: string): string {
  const hex = value.replaceAll(':', '').toLowerCase();
  if (/^[0-9a-f]{64}$/.test(hex)) return hex;
  if (/^[A-Za-z0-9_-]{43}$/.test(value)) return Buffer.from(value, 'base64url').toString('hex');
  throw invalidValue(
    'client_certificate.fingerprints',
    `"${value}" is not a SHA-256 fingerprint (64 hex digits, or 43 base64url characters)`,
  );
}
