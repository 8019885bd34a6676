/**
 * `npm start` (gatehouse demo) works out of the box: it prints the URL and the users, a newcomer
 * logs in as alice and reaches /admin, bob is refused, and Ctrl-C stops everything cleanly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { waitForReady } from '../helpers/gatehouse.ts';
import { loginThroughIdp } from '../helpers/login-flow.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait.ts';

describe('gatehouse demo', () => {
  let child: ReturnType<typeof spawn> | undefined;
  after(() => child?.kill('SIGKILL'));

  it('serves the demo, lets alice into /admin, refuses bob, and exits 0 on SIGINT', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    child = spawn(process.execPath, [new URL('../../cmd/gatehouse.ts', import.meta.url).pathname, 'demo'], {
      env: {
        ...process.env,
        GATEHOUSE_DEMO_PORT: String(port),
        GATEHOUSE_DEMO_ADMIN_PORT: String(adminPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.resume();
    await waitFor(() => out.includes('Open '), { timeoutMs: 20_000, what: 'the demo banner' });
    assert.match(out, /GATEHOUSE DEMO – development only/);
    assert.match(out, new RegExp(`Open\\s+http://127\\.0\\.0\\.1:${port}/`));
    assert.match(out, /alice or bob/);
    const base = `http://127.0.0.1:${port}`;
    await waitForReady(`http://127.0.0.1:${adminPort}`, {
      gone: () => (child?.exitCode === null ? undefined : 'the demo exited'),
    });

    const alice = new CookieJar();
    const a = await loginThroughIdp(`${base}/.gatehouse/start?rd=%2Fadmin`, 'alice', alice);
    assert.equal(a.finalUrl, `${base}/admin`);
    assert.equal(a.status, 200);
    assert.match(a.body, /x-auth-request-user<\/th><td><code>alice/);

    const bob = new CookieJar();
    const b = await loginThroughIdp(`${base}/.gatehouse/start?rd=%2Fadmin`, 'bob', bob);
    assert.equal(b.finalUrl, `${base}/admin`);
    assert.equal(b.status, 403);

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    child = undefined;
  });
});
