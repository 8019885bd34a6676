/**
 * `gatehouse demo` (what `npm start` runs): a development OpenID Provider with users alice and
 * bob, the demo upstream, and Gatehouse in front – all on 127.0.0.1. A demo, never a way to
 * run production: the IdP accepts any password and keeps everything in memory.
 *
 * Newcomer-proofing: the banner is the last thing printed at start (the log is at `warn`), a
 * busy port ends with the variable that moves it (`GATEHOUSE_DEMO_PORT`), and Ctrl-C removes
 * the temp folder holding the generated config.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import type { Config } from '../config/schema.ts';
import { configSummary } from '../demo/demo-summary.ts';
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
  for (const [name, p] of [
    ['GATEHOUSE_DEMO_PORT', port],
    ['GATEHOUSE_DEMO_ADMIN_PORT', adminPort],
  ] as const) {
    if (!(await isFree(p))) {
      process.stderr.write(
        `gatehouse demo: port ${p} on 127.0.0.1 is already in use (another demo, or another program).\n` +
          `Pick another one: ${name}=${p + 1} npm start   (or stop what is using it)\n`,
      );
      return 1;
    }
  }
  const publicUrl = `http://127.0.0.1:${port}`;
  const prefix = '/.gatehouse';
  const idp = await startDevIdp({
    redirectUris: [`${publicUrl}${prefix}/callback`],
    postLogoutRedirectUris: [`${publicUrl}/`, `${publicUrl}/public`, `${publicUrl}${prefix}/signed_out`],
    loginHint: true,
  });
  const upstream = await startDemoUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
  // Ctrl-C, SIGTERM or a failed start: nothing of the demo stays behind in the temp folder.
  const cleanup = async () => {
    await idp.close();
    upstream.server.close();
    rmSync(dir, { recursive: true, force: true });
  };
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
      assertionKey: await assertionKey(),
    }),
    { mode: 0o600 },
  );
  let gh: Awaited<ReturnType<typeof startGatehouse>>;
  try {
    gh = await startGatehouse({ configFile: file });
  } catch (err) {
    await cleanup();
    throw err;
  }
  // The banner comes last: after discovery, so no startup line lands below it.
  for (let i = 0; i < 100 && !gh.current().ready(); i++) await new Promise((r) => setTimeout(r, 50));
  process.stdout.write(banner({ publicUrl, prefix, adminPort, idp, config: gh.current().config, file }));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void gh
        .shutdown()
        .then(cleanup)
        .then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function banner(o: {
  publicUrl: string;
  prefix: string;
  adminPort: number;
  idp: { issuer: string; resource: string; machineClient: { secret: string } };
  config: Config;
  file: string;
}): string {
  const { publicUrl, prefix, idp } = o;
  return `
   Effective config (routes are matched most specific first):
${configSummary(o.config)
  .map((l) => `     ${l}`)
  .join('\n')}

   A machine token for /api:
     curl -s -u machine:${idp.machineClient.secret} -d grant_type=client_credentials \\
       -d resource=${idp.resource} -d scope=api:read ${idp.issuer}/token

  ==========================================================================
   GATEHOUSE DEMO – development only. The built-in IdP accepts any password
   and keeps its state in memory. Never run production this way.
  ==========================================================================

   Open       ${publicUrl}/            (log in as alice or bob, any password)
   Admin page ${publicUrl}/admin       (alice: group admins → allowed; bob → 403)
   Public     ${publicUrl}/public      (no login)
   Who am I   ${publicUrl}${prefix}/userinfo
   Sign out   ${publicUrl}${prefix}/sign_out?rd=/public
   Metrics    http://127.0.0.1:${o.adminPort}/metrics
   IdP        ${idp.issuer}
   Config     ${o.file}   (removed when the demo stops)

   Ctrl-C stops the demo. Audit lines of each decision follow below.

`;
}

/** Whether 127.0.0.1:`port` can be listened on (checked before anything starts). */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A fresh ES256 assertion key, so the demo need not warn about an ephemeral one. */
async function assertionKey(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return JSON.stringify({ ...(await exportJWK(privateKey)), alg: 'ES256' });
}

function demoConfig(o: {
  publicUrl: string;
  adminPort: number;
  issuer: string;
  secret: string;
  upstream: string;
  resource: string;
  assertionKey: string;
}): string {
  return `# Written by \`gatehouse demo\`: a development setup on loopback.
server:
  listen: ${new URL(o.publicUrl).host}
  public_url: ${o.publicUrl}
admin:
  listen: 127.0.0.1:${o.adminPort}
log:
  level: warn
identity:
  assertion:
    key: '${o.assertionKey}'
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
