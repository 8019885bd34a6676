/**
 * issue-17: `server.listen: unix:/…` – nginx reaches Gatehouse over a unix domain socket, both
 * through the shipped site file's `upstream gatehouse` (its `server` line pointed at the socket)
 * and with `proxy_pass http://unix:/…:/.gatehouse/auth;` written inline. Also: socket_mode is
 * applied, a stale socket file is replaced, a live one (or a file that is no socket) is refused,
 * shutdown removes the file, and a unix peer is trusted only when `trusted_proxies` lists `unix`.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { ConfigError } from '../../src/errors.ts';
import { route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { nginxSkip, shippedSite, startNginx, type TestNginx } from '../helpers/nginx.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';
import { machineToken } from './bearer-helpers.ts';

/** A short directory: a socket path must fit in 107 bytes. nginx workers (nobody) traverse it. */
function socketDir(): string {
  const dir = mkdtempSync('/tmp/gh-sock-');
  chmodSync(dir, 0o755);
  return dir;
}

function yaml(o: { idp: DevIdp; app: string; socket: string; trusted: string[]; mode?: string }): string {
  return testConfig({
    server: {
      listen: `unix:${o.socket}`,
      trusted_proxies: o.trusted,
      ...(o.mode ? { socket_mode: o.mode } : {}),
    },
    bearer: [{ issuer: o.idp.issuer, audiences: ['api://demo'], typ: 'at+jwt' }],
    routes: [
      route('admin', '/admin', o.app, { policy: { allow: [{ groups: ['admins'] }] } }),
      route('app', '/', o.app),
    ],
  });
}

/** GET over the unix socket itself (no nginx). */
function getOverSocket(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, headers: { host: 'localhost' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

/** A socket file nobody listens on: a process that listened and was killed without cleanup. */
function staleSocket(path: string): void {
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  try {
    execFileSync(process.execPath, ['-e', script], { stdio: 'ignore' });
  } catch {} // killed: the exit status is the signal
  assert.ok(statSync(path).isSocket(), 'the killed process left its socket file');
}

function listenOn(path: string): Promise<Server> {
  const server = createServer((s) => s.end());
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

/** nginx: the shipped site with its upstream on the socket, plus an inline `http://unix:` server. */
function sites(o: {
  port: number;
  inlinePort: number;
  untrustedPort: number;
  app: number;
  socket: string;
  untrusted: string;
}) {
  const shipped = shippedSite({
    listen: o.port,
    gatehouse: 1, // replaced by the socket below
    app: o.app,
  }).replace('server 127.0.0.1:1;', `server unix:${o.socket};`);
  assert.ok(shipped.includes(`server unix:${o.socket};`));
  const inline = (port: number, socket: string) => `
server {
    listen 127.0.0.1:${port};
    location = /.gatehouse/auth {
        internal;
        proxy_pass http://unix:${socket}:/.gatehouse/auth;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URI $request_uri;
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location / {
        auth_request /.gatehouse/auth;
        auth_request_set $gatehouse_user $upstream_http_x_auth_request_user;
        proxy_set_header X-Auth-Request-User $gatehouse_user;
        proxy_pass http://app;
    }
}
`;
  return [shipped, inline(o.inlinePort, o.socket), inline(o.untrustedPort, o.untrusted)];
}

describe('issue-17: nginx auth_request to Gatehouse over a unix socket', { skip: nginxSkip() }, () => {
  let idp: DevIdp;
  let echo: EchoUpstream;
  let gh: TestGatehouse;
  let untrusted: TestGatehouse;
  let nginx: TestNginx;
  let dir: string;
  let socket: string;
  let port: number;
  let inlinePort: number;
  let untrustedPort: number;
  let token: string;

  before(async () => {
    dir = socketDir();
    socket = join(dir, 'gatehouse.sock');
    [port, inlinePort, untrustedPort] = [await freePort(), await freePort(), await freePort()];
    idp = await startDevIdp({ redirectUris: ['http://127.0.0.1/cb'], accessTokenTtl: 300 });
    echo = await startEchoUpstream();
    // nginx's workers run as another user when the tests run as root: the socket must be theirs too.
    gh = await startTestGatehouse(yaml({ idp, app: echo.url, socket, trusted: ['unix'], mode: '0666' }));
    untrusted = await startTestGatehouse(
      yaml({ idp, app: echo.url, socket: join(dir, 'untrusted.sock'), trusted: [], mode: '0666' }),
    );
    nginx = await startNginx({
      sites: sites({
        port,
        inlinePort,
        untrustedPort,
        app: echo.port,
        socket,
        untrusted: join(dir, 'untrusted.sock'),
      }),
      ports: [port, inlinePort, untrustedPort],
    });
    token = await machineToken(idp);
  });
  after(async () => {
    await nginx?.close();
    await gh?.close();
    await untrusted?.close();
    await echo?.close();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function get(p: number, path: string, headers: Record<string, string> = {}) {
    const res = await request(`http://127.0.0.1:${p}${path}`, { headers });
    return { status: res.statusCode, text: await res.body.text() };
  }

  it('listens on the socket with socket_mode applied and reports it as its address', () => {
    assert.ok(statSync(socket).isSocket());
    assert.equal(statSync(socket).mode & 0o777, 0o666);
    assert.deepEqual(gh.gh.publicAddress, { address: socket, family: 'unix', port: 0 });
  });

  for (const [name, which] of [
    ['the shipped site (upstream block)', () => port],
    ['an inline proxy_pass http://unix:…', () => inlinePort],
  ] as const) {
    it(`${name}: a bearer token is allowed and its identity reaches the app; none is denied`, async () => {
      const ok = await get(which(), '/app/x', { authorization: `Bearer ${token}` });
      assert.equal(ok.status, 200, nginx.errorLog());
      const seen = JSON.parse(ok.text) as { headers: Record<string, string>; url: string };
      assert.ok(seen.headers['x-auth-request-user'], 'the identity header reached the app');
      assert.equal(seen.url, '/app/x');
      assert.equal((await get(which(), '/app/x')).status, 401);
      assert.equal((await get(which(), '/app/x', { authorization: 'Bearer nope' })).status, 401);
      // the original URI is believed (trusted unix peer): /admin's policy applies and refuses
      assert.equal((await get(which(), '/admin/x', { authorization: `Bearer ${token}` })).status, 403);
    });
  }

  it('believes the trusted unix peer: the client address is the X-Forwarded-For nginx wrote', async () => {
    await get(inlinePort, '/app/audit', { authorization: `Bearer ${token}` });
    const line = await gh.auditLine((l) => JSON.stringify(l).includes('/app/audit'));
    assert.equal(line.client_ip, '127.0.0.1', JSON.stringify(line));
  });

  it('without "unix" in trusted_proxies the peer is not believed: no original URI, denied', async () => {
    const res = await get(untrustedPort, '/app/x', { authorization: `Bearer ${token}` });
    assert.notEqual(res.status, 200);
  });
});

describe('issue-17: the unix socket file', () => {
  let idp: DevIdp;
  let dir: string;
  before(async () => {
    dir = socketDir();
    idp = await startDevIdp({ redirectUris: ['http://127.0.0.1/cb'] });
  });
  after(async () => {
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = (socket: string, mode?: string) =>
    yaml({ idp, app: 'http://127.0.0.1:9', socket, trusted: ['unix'], ...(mode ? { mode } : {}) });

  it('gets the default mode 0660, serves, and is removed on shutdown', async () => {
    const socket = join(dir, 'default.sock');
    const gh = await startTestGatehouse(config(socket));
    try {
      assert.equal(statSync(socket).mode & 0o777, 0o660);
      assert.equal(await getOverSocket(socket, '/.gatehouse/auth?route=app'), 401);
    } finally {
      await gh.close();
    }
    assert.equal(existsSync(socket), false, 'shutdown removed the socket file');
  });

  it('replaces a stale socket file nobody answers on', async () => {
    const socket = join(dir, 'stale.sock');
    staleSocket(socket);
    const gh = await startTestGatehouse(config(socket, '0600'));
    try {
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.equal(await getOverSocket(socket, '/.gatehouse/auth?route=app'), 401);
    } finally {
      await gh.close();
    }
  });

  it('refuses a live socket with a clear error and leaves it alone', async () => {
    const socket = join(dir, 'live.sock');
    const other = await listenOn(socket);
    try {
      await assert.rejects(startTestGatehouse(config(socket)), {
        name: 'SocketInUseError',
        code: 'ERR_SOCKET_IN_USE',
        message: `listen "unix:${socket}": another process is listening on this socket; stop it or choose another path`,
      });
      assert.ok(statSync(socket).isSocket(), 'the live socket is still there');
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('refuses a path that is not a socket and does not delete it', async () => {
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'keep me');
    await assert.rejects(startTestGatehouse(config(file)), {
      code: 'ERR_SOCKET_IN_USE',
      message: `listen "unix:${file}": the path exists and is not a socket; refusing to remove it`,
    });
    assert.equal(readFileSync(file, 'utf8'), 'keep me');
  });

  it('config: a relative path, a path over the OS limit and "unix" without a unix listener are positioned errors', async () => {
    const long = `/tmp/${'x'.repeat(120)}.sock`;
    const cases: [string, RegExp][] = [
      [
        config('run/gatehouse.sock'),
        /:\d+:\d+.*"unix:run\/gatehouse\.sock": a unix socket path must be absolute/,
      ],
      [
        config(long),
        new RegExp(`:\\d+:\\d+.*"${long}" is 130 bytes: a unix socket path may have at most 10[37]`),
      ],
      [
        config('/tmp/x.sock', 660 as unknown as string),
        /:\d+:\d+.*660: must be an octal file mode in quotes/,
      ],
      [
        testConfig({
          server: { trusted_proxies: ['unix'] },
          bearer: [{ issuer: idp.issuer, audiences: ['api://demo'] }],
          routes: [route('app', '/', 'http://127.0.0.1:9')],
        }),
        /:\d+:\d+.*"unix" trusts peers on a unix socket, but server.listen is not unix:/,
      ],
    ];
    for (const [text, message] of cases) {
      await assert.rejects(startTestGatehouse(text), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, message);
        return true;
      });
    }
  });
});

describe('issue-17: cluster mode (server.workers: 2) on unix sockets', () => {
  it('the primary replaces a stale file and serves admin on a socket; workers share the public one; exit removes both', async () => {
    const dir = socketDir();
    const socket = join(dir, 'g.sock');
    const admin = join(dir, 'admin.sock');
    staleSocket(socket);
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      testConfig({
        server: { listen: `unix:${socket}`, trusted_proxies: ['unix'], workers: 2 },
        admin: { listen: `unix:${admin}` },
        log: { level: 'warn' },
        routes: [route('pub', '/', 'http://127.0.0.1:9', { policy: 'public' })],
      }),
    );
    const cmd = new URL('../../cmd/gatehouse.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, [cmd, 'serve', '-c', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 15_000;
      while ((await getOverSocket(admin, '/readyz').catch(() => 0)) !== 200) {
        assert.ok(Date.now() < deadline && child.exitCode === null, `not ready: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(statSync(socket).mode & 0o777, 0o660);
      assert.equal(statSync(admin).mode & 0o777, 0o660);
      assert.equal(await getOverSocket(socket, '/.gatehouse/auth?route=pub'), 202);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      rmSync(file);
    }
    assert.equal(existsSync(socket), false, 'public socket removed');
    assert.equal(existsSync(admin), false, 'admin socket removed');
    rmSync(dir, { recursive: true, force: true });
  });
});
