/**
 * Bodies stream through the proxy with backpressure: a 96 MB upload and a 96 MB download pass
 * through a proxy running in its own process, whose peak RSS must grow far less than the body.
 * Both ends read slowly at times, so a proxy that buffered instead of pausing would hold tens
 * of megabytes and fail the bound (checked: piping without backpressure grows live memory by
 * ~56 MB). The child runs with --expose-gc and collects every 25 ms, so uncollected garbage does
 * not make peak RSS random.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BIG_CHUNK, type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

const BODY_BYTES = 96 * 1024 * 1024;
const MAX_GROWTH_KB = 64 * 1024;
const FIXTURE = fileURLToPath(new URL('../fixtures/proxy-front.ts', import.meta.url));

interface Report {
  /** process.resourceUsage().maxRSS */
  maxRssKb: number;
  /** peaks since the last report, sampled right after a GC */
  peakLiveKb: number;
  peakLiveRssKb: number;
}

describe('proxy streaming (child process)', () => {
  let upstream: EchoUpstream;
  let child: ChildProcess;
  let port = 0;

  const report = async (): Promise<Report> => {
    const reply = once(child, 'message');
    child.send('report');
    return (await reply)[0] as Report;
  };

  before(async () => {
    upstream = await startEchoUpstream();
    const routes = [{ name: 'all', upstream: upstream.url, policy: 'public', timeout: '60s' }];
    // process.execPath is the Node 24 the tests run on (node_modules/.bin/node).
    child = spawn(process.execPath, ['--expose-gc', FIXTURE, JSON.stringify(routes)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [ready] = (await once(child, 'message')) as [{ port: number }];
    port = ready.port;
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.send('exit');
      await Promise.race([exited, sleep(5000).then(() => child.kill())]);
    }
    await upstream?.close();
  });

  const upload = () =>
    new Promise<{ bodyBytes: number; bodySha256: string; expected: string }>((resolve, reject) => {
      const hash = createHash('sha256');
      const req = request({
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/__slow-read?pauseMs=15',
        headers: { host: 'h', 'content-length': BODY_BYTES },
      });
      req.on('error', reject);
      req.on('response', async (res) => {
        let text = '';
        for await (const chunk of res) text += String(chunk);
        try {
          resolve({
            ...(JSON.parse(text) as { bodyBytes: number; bodySha256: string }),
            expected: hash.digest('hex'),
          });
        } catch (err) {
          reject(err);
        }
      });
      let sent = 0;
      const pump = () => {
        while (sent < BODY_BYTES) {
          sent += BIG_CHUNK.length;
          hash.update(BIG_CHUNK);
          if (!req.write(BIG_CHUNK)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });

  const download = async (total = BODY_BYTES) => {
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path: `/__big?bytes=${total}`, headers: { host: 'h' } });
      req.on('response', resolve).on('error', reject).end();
    });
    assert.equal(res.statusCode, 200);
    let bytes = 0;
    let chunks = 0;
    for await (const chunk of res) {
      bytes += (chunk as Buffer).length;
      // A slow reader: the proxy must pause the upstream rather than queue what we do not read.
      if (++chunks % 64 === 0) await sleep(15);
    }
    return bytes;
  };

  test(`${BODY_BYTES / 1024 / 1024} MB up and down stream without the proxy buffering them`, async () => {
    // Warm up (module loading, JIT, agent), then take the baseline.
    for (let i = 0; i < 3; i++) assert.equal(await download(1024 * 1024), 1024 * 1024);
    const baseline = await report();

    const up = await upload();
    assert.equal(up.bodyBytes, BODY_BYTES);
    assert.equal(up.bodySha256, up.expected, 'the upstream received the exact bytes');

    assert.equal(await download(), BODY_BYTES);

    const peak = await report();
    const mb = (kb: number) => Math.round(kb / 1024);
    const rssGrowth = peak.maxRssKb - baseline.maxRssKb;
    const liveGrowth = peak.peakLiveKb - baseline.peakLiveKb;
    console.log(`# proxy growth: peak RSS ${mb(rssGrowth)} MB, live after GC ${mb(liveGrowth)} MB`);
    assert.ok(rssGrowth < MAX_GROWTH_KB, `proxy peak RSS grew by ${mb(rssGrowth)} MB`);
    assert.ok(liveGrowth < MAX_GROWTH_KB / 2, `proxy live memory grew by ${mb(liveGrowth)} MB`);
  });
});
