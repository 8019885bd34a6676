/**
 * A throwaway PKI made with the openssl CLI at test time: CAs, a server certificate for
 * 127.0.0.1/localhost, and client certificates with chosen subjects and SANs.
 */

import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
  /** SHA-256 of the DER, base64url (`x5t#S256`) */
  readonly thumbprint: string;
  /** SHA-256 of the DER, hex */
  readonly fingerprint: string;
}

export interface TestCa extends Issued {
  /** a certificate signed by this CA; `san` is openssl's subjectAltName syntax */
  issue(name: string, subject: string, san?: string, opts?: { server?: boolean }): Issued;
}

export function createTestCa(name: string, dir = mkdtempSync(join(tmpdir(), 'gatehouse-pki-'))): TestCa {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'],
    [
      '-subj',
      `/CN=${name}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ],
  );
  const ca = load(certFile, keyFile);
  return {
    ...ca,
    issue(leaf, subject, san, opts = {}) {
      const leafKey = join(dir, `${leaf}.key`);
      const csr = join(dir, `${leaf}.csr`);
      const leafCert = join(dir, `${leaf}.crt`);
      const ext = join(dir, `${leaf}.ext`);
      openssl(
        ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
        ['-subj', subject, '-keyout', leafKey, '-out', csr],
      );
      writeFileSync(
        ext,
        [
          'basicConstraints=CA:FALSE',
          `extendedKeyUsage=${opts.server ? 'serverAuth' : 'clientAuth'}`,
          ...(san ? [`subjectAltName=${san}`] : []),
        ].join('\n'),
      );
      openssl(
        ['x509', '-req', '-in', csr, '-CA', certFile, '-CAkey', keyFile, '-CAcreateserial', '-days', '1'],
        ['-extfile', ext, '-out', leafCert],
      );
      return load(leafCert, leafKey);
    },
  };
}

function openssl(a: string[], b: string[]): void {
  execFileSync('openssl', [...a, ...b], { stdio: 'ignore' });
}

function load(certFile: string, keyFile: string): Issued {
  const cert = readFileSync(certFile, 'utf8');
  const digest = createHash('sha256').update(new X509Certificate(cert).raw).digest();
  return {
    certFile,
    keyFile,
    cert,
    key: readFileSync(keyFile, 'utf8'),
    thumbprint: digest.toString('base64url'),
    fingerprint: digest.toString('hex'),
  };
}
