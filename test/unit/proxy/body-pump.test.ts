import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pumpBody, RELEASE_MIN_BYTES, release } from '../../../src/proxy/body-pump.ts';

const listen = async (server: Server) => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
};
const close = (server: Server) => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
};
/** Bounded: the exchange, body included, is aborted after 10 s (a body that never completes). */
const get = (port: number, path = '/') =>
  new Promise<IncomingMessage>((resolve, reject) => {
    const signal = AbortSignal.timeout(10_000);
    request({ port, host: '127.0.0.1', path, agent: false, signal }, resolve).on('error', reject).end();
  });

/** A body whose every 64 KiB block differs, so a misplaced or reused block changes the hash. */
const BODY = Buffer.alloc(2 * 1024 * 1024);
for (let i = 0; i < BODY.length; i += 4) BODY.writeUInt32LE(i, i);
const BODY_SHA = createHash('sha256').update(BODY).digest('hex');

describe('release', () => {
  test('frees a buffer that spans its whole ArrayBuffer', () => {
    const buf = Buffer.allocUnsafeSlow(RELEASE_MIN_BYTES);
    release(buf);
    assert.equal(buf.buffer.byteLength, 0);
    assert.equal(buf.length, 0);
    release(buf); // twice is a no-op, never a throw
  });

  test('leaves views alone: a slice, and a buffer from node’s shared pool', () => {
    const whole = Buffer.alloc(4 * RELEASE_MIN_BYTES, 1);
    const slice = whole.subarray(RELEASE_MIN_BYTES);
    release(slice);
    assert.equal(whole.length, 4 * RELEASE_MIN_BYTES);
    assert.equal(slice[0], 1);
    const pooled = Buffer.from('pooled');
    const neighbour = Buffer.from('neighbour');
    assert.equal(pooled.buffer, neighbour.buffer, 'both come from the pool');
    release(pooled);
    assert.equal(neighbour.toString(), 'neighbour');
  });
});

describe('pumpBody (real sockets)', () => {
  let upstream: Server;
  let proxy: Server;
  let proxyPort = 0;
  /** what the proxy's pump saw, for the assertions: chunks of the upstream response, socket reads */
  let chunks: { chunk: Buffer; length: number }[] = [];
  let reads: Buffer[] = [];

  before(async () => {
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length });
      res.end(BODY);
    });
    const upstreamPort = await listen(upstream);
    proxy = createServer((req, res) => {
      const out = request({ port: upstreamPort, host: '127.0.0.1', path: req.url, agent: false }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.socket.on('data', (read: Buffer) => reads.push(read));
        upRes.on('data', (chunk: Buffer) => chunks.push({ chunk, length: chunk.length }));
        pumpBody(upRes, res, upRes.socket);
      });
      out.end();
    });
    proxyPort = await listen(proxy);
  });
  after(async () => {
    await close(proxy);
    await close(upstream);
  });

  test('node’s HTTP client gives each body chunk memory of its own, apart from the socket read', async () => {
    // What releasing socket reads relies on (body-pump.ts checks it at run time too): if a node
    // version hands out views of the read instead, this fails, and the reads are no longer freed.
    const got = await get(proxyPort);
    got.resume();
    await once(got, 'end');
    assert.ok(chunks.length > 1);
    const readBuffers = new Set(reads.map((r) => r.buffer));
    for (const { chunk } of chunks) assert.ok(!readBuffers.has(chunk.buffer), 'a chunk viewed a socket read');
  });

  test('a slow reader gets the exact body; written chunks and parsed reads are freed', async () => {
    chunks = [];
    reads = [];
    const got = await get(proxyPort);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of got) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      // Slow enough that the proxy's writes queue in the socket: a chunk freed before its write
      // completed would send freed memory (the hash would differ).
      if (bytes % (256 * 1024) < (chunk as Buffer).length) await sleep(5);
    }
    assert.equal(bytes, BODY.length);
    assert.equal(hash.digest('hex'), BODY_SHA);
    const big = chunks.filter((c) => c.length >= RELEASE_MIN_BYTES);
    assert.ok(big.length > 0);
    assert.ok(
      big.every((c) => c.chunk.buffer.byteLength === 0),
      'every large chunk was freed once written',
    );
    // The reads parsed before the body was seen to be large are the GC's; later ones are freed.
    const freedReads = reads.filter((r) => r.buffer.byteLength === 0).length;
    assert.ok(freedReads >= reads.length / 2, `${freedReads} of ${reads.length} socket reads freed`);
  });
});
