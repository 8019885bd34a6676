/**
 * `gatehouse demo` (what `npm start` runs): a development OpenID Provider with users alice and
 * bob, the demo upstream, and Gatehouse in front – all on 127.0.0.1. A demo, never a way to
 * run production: the IdP accepts any password and keeps everything in memory.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatehouse } from '../server/gatehouse.ts';

export async function runDemo(): Promise<number> {
  let startDevIdp: typeof import('../demo/dev-idp.ts').startDevIdp;
  try {
    ({ startDevIdp } = await import('../demo/dev-idp.ts'));
    await import('oidc-provider');
  } catch {
    process.stderr.write(
      'gatehouse demo needs the development dependencies: run `npm ci` in the source tree.\n',
    );
    return 1;
  }
  const { startDemoUpstream } = await import('../demo/demo-upstream.ts');
  const port = Number(process.env.GATEHOUSE_DEMO_PORT ?? 8080);
  const adminPort = Number(process.env.GATEHOUSE_DEMO_ADMIN_PORT ?? 9090);
  const publicUrl = `http://127.0.0.1:${port}`;
  const prefix = '/.gatehouse';
  const idp = await startDevIdp({
    redirectUris: [`${publicUrl}${prefix}/callback`],
    postLogoutRedirectUris: [`${publicUrl}/`, `${publicUrl}/public`, `${publicUrl}/.gatehouse/signed_out`],
  });
  const upstream = await startDemoUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(
    file,
    demoConfig({
      publicUrl,
      adminPort,
      issuer: idp.issuer,
      secret: idp.clientSecret,
      upstream: upstream.url,
      resource: idp.resource,
    }),
    { mode: 0o600 },
  );
  const gh = await startGatehouse({ configFile: file });
  process.stdout.write(`
  ==========================================================================
   GATEHOUSE DEMO – development only. The built-in IdP accepts any password
   and keeps its state in memory. Never run production this way.
  ==========================================================================

   Open       ${publicUrl}/            (log in as alice or bob, any password)
   Admin page ${publicUrl}/admin       (alice: group admins → allowed; bob → 403)
   Public     ${publicUrl}/public      (no login)
   Who am I   ${publicUrl}${prefix}/userinfo
   Metrics    http://127.0.0.1:${adminPort}/metrics
   IdP        ${idp.issuer}
   Config     ${file}

   A machine token for /api:
     curl -s -u machine:${idp.machineClient.secret} -d grant_type=client_credentials \\
       -d resource=${idp.resource} -d scope=api:read ${idp.issuer}/token
  \n`);
  return new Promise<number>((resolve) => {
    const stop = () => {
      void gh.shutdown().then(async () => {
        await idp.close();
        upstream.server.close();
        resolve(0);
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function demoConfig(o: {
  publicUrl: string;
  adminPort: number;
  issuer: string;
  secret: string;
  upstream: string;
  resource: string;
}): string {
  return `# Written by \`gatehouse demo\`: a development setup on loopback.
server:
  listen: ${new URL(o.publicUrl).host}
  public_url: ${o.publicUrl}
admin:
  listen: 127.0.0.1:${o.adminPort}
oidc:
  issuer: ${o.issuer}
  client_id: gatehouse
  client_secret: ${o.secret}
  scopes: [openid, profile, email, groups, offline_access]
session:
  secrets: [${randomBytes(32).toString('base64url')}]
bearer:
  - issuer: ${o.issuer}
    audiences: ["${o.resource}"]
    algorithms: [ES256, RS256]
    typ: at+jwt
roles:
  claims: [groups]
  map: { admins: admin, eng: engineer }
audit:
  output: stdout
routes:
  - name: public
    match: { path: /public }
    upstream: ${o.upstream}
    policy: public
  - name: admin
    match: { path: /admin }
    upstream: ${o.upstream}
    policy: { allow: [ { roles: [admin] } ] }
  - name: api
    match: { path: /api }
    upstream: ${o.upstream}
    auth: [bearer]
    policy: { allow: [ { authenticated: true } ] }
  - name: app
    match: { path: / }
    upstream: ${o.upstream}
    policy: { allow: [ { authenticated: true } ] }
`;
}
