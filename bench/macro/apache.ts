/**
 * Apache httpd for the macro bench, a peer to nginx: `alone` proxies to the upstream
 * (mod_proxy_http, a keep-alive pool); `oidc` does the same behind mod_auth_openidc validating the
 * bearer JWT in-process (`AuthType oauth20`, the bench's RS256 key as a certificate, `Require valid-user`) – the
 * Apache way of doing what Gatehouse's warm-bearer route does. One child process of mpm_event
 * (`ServerLimit 1`) with 64 threads – more than wrk's connections: a proxied request holds its
 * thread while it waits for the upstream, and an event MPM at MaxRequestWorkers closes idle
 * keep-alive connections (wrk counts those as read errors) – so its CPU is one process tree,
 * pinned with the proxy.
 * Started as root (the sandbox runs as root), Apache drops its child to `User`/`Group`.
 */
import { spawnSync } from 'node:child_process';
import { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CryptoKey } from 'jose';

export const APACHE = ['/usr/sbin/apache2', '/usr/sbin/httpd'].find((p) => existsSync(p));
const MODULES = '/usr/lib/apache2/modules';
export const HAS_OIDC = existsSync(join(MODULES, 'mod_auth_openidc.so'));

/** The child's user and group when started as root: `nobody`/`nogroup` exist on Debian. */
function runAs(): string {
  if (process.getuid?.() !== 0) return '';
  return 'User nobody\nGroup nogroup\n';
}

export function apacheConfig(
  dir: string,
  o: { alone: number; oidc: number; upstream: number; key: { kid: string; privateKey: CryptoKey } },
): string {
  mkdirSync(dir, { recursive: true });
  const mods = [
    ['mpm_event_module', 'mod_mpm_event.so'],
    ['authn_core_module', 'mod_authn_core.so'],
    ['authz_core_module', 'mod_authz_core.so'],
    ['authz_user_module', 'mod_authz_user.so'],
    ['proxy_module', 'mod_proxy.so'],
    ['proxy_http_module', 'mod_proxy_http.so'],
    ...(HAS_OIDC ? [['auth_openidc_module', 'mod_auth_openidc.so']] : []),
  ];
  // mod_auth_openidc fetches a JWKS over https only, and 2.4.12 crashes on a bare public-key PEM:
  // 2.4.12 reads only RSA certificates there: the bench's RS256 key is given as a self-signed
  // certificate (openssl), by kid.
  const pem = join(dir, 'verify.pem');
  const keyFile = join(dir, 'verify.key');
  writeFileSync(keyFile, KeyObject.from(o.key.privateKey).export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    keyFile,
    '-subj',
    '/CN=bench',
    '-days',
    '2',
    '-out',
    pem,
  ]);
  if (made.status !== 0) throw new Error(`openssl req failed: ${made.stderr?.toString()}`);
  const upstream = `http://127.0.0.1:${o.upstream}/`;
  // One keep-alive pool to the upstream per vhost, as nginx's `keepalive 64`.
  const proxy = `ProxyPass / ${upstream} keepalive=On max=16 ttl=60\n  ProxyPassReverse / ${upstream}`;
  const text = `ServerRoot "${dir}"
ServerName 127.0.0.1
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
LogLevel warn
Mutex file:${dir} default
${runAs()}${mods.map(([n, f]) => `LoadModule ${n} ${MODULES}/${f}`).join('\n')}
StartServers 1
ServerLimit 1
MinSpareThreads 1
MaxSpareThreads 64
ThreadsPerChild 64
ThreadLimit 64
MaxRequestWorkers 64
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 65
Listen 127.0.0.1:${o.alone}
Listen 127.0.0.1:${o.oidc}
<VirtualHost 127.0.0.1:${o.alone}>
  ${proxy}
</VirtualHost>
${
  HAS_OIDC
    ? `OIDCCryptoPassphrase bench-crypto-passphrase-0123456789
OIDCCacheType shm
<VirtualHost 127.0.0.1:${o.oidc}>
  OIDCOAuthVerifyCertFiles ${o.key.kid}#${pem}
  OIDCOAuthRemoteUserClaim sub
  OIDCOAuthAcceptTokenAs header
  <Location />
    AuthType oauth20
    Require valid-user
  </Location>
  ${proxy}
</VirtualHost>
`
    : ''
}`;
  const file = join(dir, 'httpd.conf');
  writeFileSync(file, text);
  return file;
}
