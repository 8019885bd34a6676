import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type AuditEntry, createAuditLog } from '../../../src/observe/audit.ts';
import { waitFor } from '../../helpers/gatehouse.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const entry = (i: number, path = `/app/${i}`): AuditEntry => ({
  request_id: `req-${i}`,
  route: 'app',
  method: 'GET',
  host: 'app.example.com',
  path,
  client_ip: '192.0.2.7',
  sub: 'user-1',
  email: 'ünïcødé@example.com',
  decision: 'allow',
  reason: 'policy_allowed',
  status: 200,
  duration_ms: 0.25,
});

const lines = (file: string) =>
  (existsSync(file) ? readFileSync(file, 'utf8') : '')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** The file opens asynchronously, and writes complete after close() returns. */
async function linesOnceWritten(file: string, n: number): Promise<Record<string, unknown>[]> {
  await waitFor(() => lines(file).length >= n, 5000, `${n} audit lines`);
  return lines(file);
}

describe('audit log', () => {
  it('writes every line, in order and whole, across many batches', async () => {
    const file = join(dir, 'many.log');
    const log = createAuditLog(file);
    const n = 2_000; // ~700 KB: dozens of 32 KiB batches
    for (let i = 0; i < n; i++) log.write(entry(i));
    await log.close();
    const got = await linesOnceWritten(file, n);
    assert.equal(got.length, n);
    got.forEach((l, i) => {
      assert.equal(l.request_id, `req-${i}`);
      assert.equal(l.log, 'audit');
      assert.equal(l.email, 'ünïcødé@example.com'); // multi-byte UTF-8 never split between batches
      assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });
  });

  it('keeps a line longer than a batch whole, between its neighbours', async () => {
    const file = join(dir, 'long.log');
    const log = createAuditLog(file);
    const long = `/${'€'.repeat(20_000)}`; // 60 KB of UTF-8
    log.write(entry(0));
    log.write(entry(1, long));
    log.write(entry(2));
    await log.close();
    const got = await linesOnceWritten(file, 3);
    assert.deepEqual(
      got.map((l) => l.request_id),
      ['req-0', 'req-1', 'req-2'],
    );
    assert.equal(got[1]!.path, long);
  });

  it('creates its file readable by owner and group only', async () => {
    const file = join(dir, 'mode.log');
    const log = createAuditLog(file);
    log.write(entry(6));
    await log.close();
    await linesOnceWritten(file, 1);
    assert.equal(statSync(file).mode & 0o777, 0o640);
  });
  it('flush is a barrier: once it resolves every earlier line is in the file, in order', async () => {
    const file = join(dir, 'barrier.log');
    const log = createAuditLog(file);
    for (let round = 0; round < 20; round++) {
      log.write(entry(round * 2));
      void log.flush(); // this batch is now being written asynchronously
      log.write(entry(round * 2 + 1)); // the next one must never land before it
      await log.flush();
      const got = lines(file).map((l) => l.request_id);
      assert.equal(got.length, round * 2 + 2, 'nothing handed over is still missing');
      assert.deepEqual(got.slice(-2), [`req-${round * 2}`, `req-${round * 2 + 1}`]);
    }
    // Idle (nothing in flight), flushSync writes at once.
    log.write(entry(99));
    log.flushSync();
    assert.equal(lines(file).at(-1)?.request_id, 'req-99');
    await log.close();
  });
});
