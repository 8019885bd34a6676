/**
 * `npm start` (gatehouse demo) works out of the box, run as a newcomer runs it (the real CLI):
 * the banner comes last with the users, alice logs in and reaches /admin – also when the demo is
 * opened as localhost (issue-20) – bob is refused, the login page names the demo users, a busy
 * port ends with the variable that moves it, and Ctrl-C stops everything and removes the temp
 * folder.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { waitForReady } from '../helpers/gatehouse.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait.ts';

const CLI = new URL('../../cmd/gatehouse.ts', import.meta.url).pathname;

describe('gatehouse demo', () => {
  let child: ReturnType<typeof spawn> | undefined;
  after(() => child?.kill('SIGKILL'));

  it('serves the demo, lets alice into /admin (also on localhost), refuses bob, and cleans up on SIGINT', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    child = spawn(process.execPath, [CLI, 'demo'], {
      env: {
        ...process.env,
        GATEHOUSE_DEMO_PORT: String(port),
        GATEHOUSE_DEMO_ADMIN_PORT: String(adminPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    await waitFor(() => out.includes('Ctrl-C stops the demo'), {
      timeoutMs: 20_000,
      what: 'the demo banner',
    });
    assert.match(out, /GATEHOUSE DEMO – development only/);
    assert.match(out, new RegExp(`Open\\s+http://127\\.0\\.0\\.1:${port}/`));
    assert.match(out, /alice or bob/);
    assert.match(out, /Session\s+idle 1h, at most 12h/, 'durations as a person writes them');
    assert.match(out, /admin\s+\/admin\s+roles \[admin\]/);
    assert.ok(out.indexOf('Effective config') < out.indexOf('GATEHOUSE DEMO'), 'the banner comes last');
    assert.doesNotMatch(err, /oidc-provider WARNING/);
    assert.doesNotMatch(err, /"level":"info"/, 'no startup log lines around the banner');
    const dir = /Config\s+(\S+)\/gatehouse\.yaml/.exec(out)?.[1];
    assert.ok(dir && existsSync(dir), 'the temp folder exists while the demo runs');
    const base = `http://127.0.0.1:${port}`;
    await waitForReady(`http://127.0.0.1:${adminPort}`, {
      gone: () => (child?.exitCode === null ? undefined : 'the demo exited'),
    });

    const alice = new CookieJar();
    const a = await loginThroughIdp(`${base}/.gatehouse/start?rd=%2Fadmin`, 'alice', alice);
    assert.equal(a.finalUrl, `${base}/admin`);
    assert.equal(a.status, 200);
    assert.match(a.body, /x-auth-request-user<\/th><td><code>alice/);
    assert.match(a.body, /href="\/\.gatehouse\/sign_out\?rd=\/public"/, 'sign-out lands on /public');

    const bob = new CookieJar();
    const b = await loginThroughIdp(`${base}/.gatehouse/start?rd=%2Fadmin`, 'bob', bob);
    assert.equal(b.finalUrl, `${base}/admin`);
    assert.equal(b.status, 403);

    // issue-20: opened as localhost, the first hop goes to public_url and the login completes.
    const local = new CookieJar();
    const l = await loginThroughIdp(`http://localhost:${port}/admin`, 'alice', local);
    assert.equal(l.visited[1], `${base}/admin`);
    assert.equal(l.finalUrl, `${base}/admin`);
    assert.equal(l.status, 200);

    // the login page names the demo users
    const start = await request(`${base}/.gatehouse/start?rd=%2F`);
    await start.body.dump();
    const jar = new CookieJar();
    let url = new URL(String(start.headers.location));
    for (let hop = 0; hop < 5; hop++) {
      const res = await request(url, { headers: { cookie: jar.header(url) ?? '' } });
      jar.setFrom(url, res.headers['set-cookie']);
      const text = await res.body.text();
      if (res.statusCode === 200) {
        assert.match(text, /Demo users: <b>alice<\/b>.* or <b>bob<\/b>.*Any password works/);
        break;
      }
      url = new URL(String(res.headers.location), url);
      assert.ok(hop < 4, 'reached the login form');
    }

    // sign out: Gatehouse sends the browser to the IdP's logout with /public as the way back
    const signOut = await request(`${base}/.gatehouse/sign_out?rd=/public`, {
      headers: { cookie: alice.header(base) ?? '' },
    });
    await signOut.body.dump();
    assert.equal(signOut.statusCode, 302);
    const location = new URL(String(signOut.headers.location));
    assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${base}/public`);

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    child = undefined;
    assert.equal(existsSync(dir), false, 'Ctrl-C removed the temp folder');
  });

  it('ends with a hint naming GATEHOUSE_DEMO_PORT when the port is busy', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = spawnSync(process.execPath, [CLI, 'demo'], {
        env: {
          ...process.env,
          GATEHOUSE_DEMO_PORT: String(port),
          GATEHOUSE_DEMO_ADMIN_PORT: String(await freePort()),
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(r.stderr, new RegExp(`GATEHOUSE_DEMO_PORT=${port + 1} npm start`));
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
    } finally {
      busy.close();
    }
  });
});
