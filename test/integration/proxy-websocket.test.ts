/**
 * Websocket upgrades through the real Gatehouse, and a handshake whose upstream is down. (A
 * bearer-authenticated upgrade carrying identity headers upstream is gatehouse-e2e's "passes
 * websocket upgrades through the same policy".)
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { stringify } from 'yaml';
import { auditLine } from '../fixtures/proxy-gatehouse.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

describe('proxy websockets', () => {
  let upstream: EchoUpstream;
  let gh: TestGatehouse;
  let wsUrl = '';

  before(async () => {
    upstream = await startEchoUpstream();
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const closedPort = (spare.address() as AddressInfo).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    gh = await startTestGatehouse(
      stringify({
        routes: [
          { name: 'ws', upstream: upstream.url, policy: 'public' },
          {
            name: 'down',
            match: { path: '/down' },
            upstream: `http://127.0.0.1:${closedPort}`,
            policy: 'public',
          },
        ],
      }),
    );
    wsUrl = gh.url.replace(/^http/, 'ws');
  });
  after(async () => {
    await gh?.close();
    await upstream?.close();
  });

  test('messages echo both ways; the handshake carries forwarded headers, never forged identity', async () => {
    const ws = new WebSocket(`${wsUrl}/socket/../chat?room=1`, {
      headers: { 'X-Forwarded-For': '6.6.6.6', 'X-Auth-Request-User': 'mallory' },
    });
    await once(ws, 'open');
    const replies: string[] = [];
    ws.on('message', (data) => replies.push(String(data)));
    for (const text of ['one', 'two', 'x'.repeat(100_000)]) ws.send(text);
    for (let i = 0; i < 200 && replies.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      replies.map((r) => r.slice(0, 5)),
      ['one', 'two', 'xxxxx'],
    );
    assert.equal(replies[2]?.length, 100_000);
    ws.close();
    await once(ws, 'close');

    const handshake = upstream.requests.findLast((r) => r.websocket);
    assert.equal(handshake?.url, '/chat?room=1');
    assert.equal(handshake?.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(handshake?.headers['x-auth-request-user'], undefined, 'the forged identity was stripped');
    assert.equal(handshake?.headers.upgrade, 'websocket');
    const line = await auditLine(gh, (l) => l.route === 'ws' && l.path === '/chat', 'the upgrade audit line');
    assert.deepEqual([line.status, line.decision], [101, 'allow']);
  });

  test('an upstream that is down answers the handshake with 502, not a hang', async () => {
    const ws = new WebSocket(`${wsUrl}/down`);
    ws.on('error', () => {}); // terminate() before open reports an error we expect
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    assert.equal(res.statusCode, 502);
    let body = '';
    for await (const chunk of res) body += String(chunk);
    assert.equal(JSON.parse(body).error, 'upstream_unreachable');
    ws.terminate();
    const line = await auditLine(gh, (l) => l.route === 'down', 'the refused upgrade audit line');
    assert.deepEqual([line.status, line.reason], [502, 'upstream_unreachable']);
  });
});
