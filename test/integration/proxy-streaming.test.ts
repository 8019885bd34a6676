/**
 * Bodies stream through the real Gatehouse (`gatehouse serve`, in its own process, so its memory
 * is measured apart from the test's) without being held: a 96 MiB upload to a slow upstream, a
 * 96 MiB download to a slow reader, and 16 slow downloads at once. Memory is sampled every 5 ms
 * with no forced GC (test/fixtures/memory-probe.ts), so Buffers freed late count as held.
 *
 * Before body-pump.ts the download grew Gatehouse's peak RSS by 68–71 MiB and its live
 * arrayBuffers by as much: every byte arrived with backpressure, but each dead read waited for a
 * full GC that V8 schedules by external memory. Now buffers are freed once written; what is left
 * is a few socket buffers per stream (bench/memory/ compares with bare http-proxy-3 and a node
 * pipe, which hold 45–90 MiB the same way).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type MeasuredProxy,
  type MemoryGrowth,
  measureStreams,
  measureUpload,
  startMeasuredProxy,
  warmUp,
} from '../fixtures/streaming-memory.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

const MIB = 1024 * 1024;
const BODY_BYTES = 96 * MIB;
/** The target: far below the body, which a proxy that buffered (or freed late) would reach. */
const MAX_RSS_GROWTH_KB = 64 * 1024;
/**
 * Buffers alive at the peak: a stream's in-flight bytes are its socket and stream buffers (about
 * 200 KiB); this allows 1 MiB per stream and 8 MiB on top, against the 45–70 MiB of late-freed
 * buffers this process held before.
 */
const bufferBoundKb = (streams: number) => (8 + streams) * 1024;

describe('proxy streaming memory (gatehouse serve, in a child process)', () => {
  let upstream: EchoUpstream;

  before(async () => {
    upstream = await startEchoUpstream();
  });
  after(async () => {
    await upstream?.close();
  });

  /**
   * A fresh Gatehouse per measurement: memory the allocator got back stays in RSS, so a second
   * measurement in the same process would start from the first one's peak and see less.
   */
  const measured = async (
    what: string,
    streams: number,
    run: (p: MeasuredProxy) => Promise<MemoryGrowth>,
  ) => {
    const gatehouse = await startMeasuredProxy('gatehouse', upstream.url);
    try {
      // Module loading, JIT and the upstream agent, before the baseline is taken.
      await warmUp(gatehouse);
      const growth = await run(gatehouse);
      const line = describeGrowth(what, growth);
      console.log(`# ${line}`);
      assert.ok(growth.rssGrowthKb < MAX_RSS_GROWTH_KB, `${line}\n${gatehouse.output().slice(-2000)}`);
      assert.ok(growth.arrayBuffersGrowthKb < bufferBoundKb(streams), line);
      return growth;
    } finally {
      await gatehouse.stop();
    }
  };

  const mb = (kb: number) => (kb / 1024).toFixed(1);
  const describeGrowth = (what: string, g: MemoryGrowth) =>
    `${what}: peak RSS +${mb(g.rssGrowthKb)} MiB, live +${mb(g.liveGrowthKb)} MiB, buffers +${mb(g.arrayBuffersGrowthKb)} MiB (${g.ms} ms)`;
  test('a 96 MiB download to a slow reader arrives intact, and is not held', async () => {
    await measured('1 download', 1, (gh) => measureStreams(gh, 1, BODY_BYTES));
  });

  test('16 slow readers at once: memory grows by their socket buffers, not by what they read', async () => {
    // 16 × 16 MiB is 256 MiB through the proxy: buffering, or freeing late, would show at once.
    await measured('16 downloads', 16, (gh) => measureStreams(gh, 16, 16 * MIB));
  });

  test('a 96 MiB upload to a slow upstream arrives intact, and is not held', async () => {
    await measured('upload', 1, async (gh) => {
      const up = await measureUpload(gh, BODY_BYTES);
      assert.equal(up.bytes, BODY_BYTES);
      assert.ok(up.intact, 'the upstream received the exact bytes');
      return up;
    });
  });
});
