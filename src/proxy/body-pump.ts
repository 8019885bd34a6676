/**
 * Streams a body from one HTTP message to another with backpressure (what `pipe` does), and
 * gives each chunk's memory back as soon as it has been written.
 *
 * Why not leave that to the GC: a Buffer's bytes live outside V8's heap and are freed only when
 * a collection finds the Buffer dead. Streaming allocates next to nothing on the heap, so no
 * young collection comes; V8 schedules a full one by external memory instead, at a limit that
 * grows with the heap. Each upstream socket read is a fresh buffer and node's HTTP parser copies
 * the body out of it, so a 96 MiB download allocated 192 MiB of buffers, and Gatehouse (a heap
 * of about 30 MB) held up to 70 MiB of dead ones at a time – every byte was delivered with
 * backpressure, yet peak RSS grew by 68–71 MiB (bench/memory/).
 *
 * Detaching an ArrayBuffer (`transfer(0)`) frees its memory at once, and is done only where
 * nothing else can still read it:
 * - a chunk we wrote, once its write callback ran (the socket no longer holds it), and only
 *   when the chunk spans its whole ArrayBuffer (a slice of a shared one, node's 8 KiB pool
 *   included, is left to the GC);
 * - an upstream socket read, once the HTTP parser has returned from it (our listener runs after
 *   node's, which parses synchronously), and only once this process has seen the parser give a
 *   body chunk memory of its own: node 24 copies every chunk (node_http_parser.cc `on_body`,
 *   `Buffer::Copy`); a node that hands out views of the read never proves that, and its reads
 *   are released only when no chunk can view them (see ReadRelease).
 * Chunks under {@link RELEASE_MIN_BYTES} are left to the GC: small bodies (the hot path) get no
 * allocation from this module.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';

export const RELEASE_MIN_BYTES = 16 * 1024;

/** A node whose HTTP parser handed a body chunk its own memory was seen in this process. */
let parserCopies = false;

/** `buf`'s ArrayBuffer when `buf` spans all of it (and it is still attached), else undefined. */
function wholeArrayBuffer(buf: Buffer): ArrayBuffer | undefined {
  const ab = buf.buffer;
  return buf.byteOffset === 0 && buf.byteLength === ab.byteLength && ab instanceof ArrayBuffer && !ab.detached
    ? ab
    : undefined;
}

/** Frees `ab`'s memory now. A buffer that cannot be detached is left to the GC, never thrown over. */
function detach(ab: ArrayBuffer): void {
  try {
    ab.transfer(0);
  } catch {
    // non-detachable (e.g. marked so by its owner): the GC frees it
  }
}

/** Frees `buf`'s memory now, when `buf` spans its whole ArrayBuffer; else leaves it to the GC. */
export function release(buf: Buffer): void {
  const ab = wholeArrayBuffer(buf);
  if (ab !== undefined) detach(ab);
}

/**
 * Pumps `source` into `sink`: pauses `source` while `sink` is full, resumes it on 'drain', ends
 * `sink` when `source` ends. Nothing here reacts to errors or to either side closing early: the
 * caller's flight tears both sides down then (see upstream-proxy.ts). `upstream` is the socket
 * `source` is parsed from when `source` is an upstream response: its reads are released too.
 * (Three listeners, where `pipe` allocates about ten closures per call.)
 */
export function pumpBody(source: IncomingMessage, sink: Writable, upstream?: Socket): void {
  if (source.readableEnded) {
    sink.end(); // read to its end already: its 'end' will not come again
    return;
  }
  let reads: ReadRelease | undefined;
  source.on('data', (chunk: Buffer) => {
    if (sink.writableEnded) return;
    let ok: boolean;
    if (chunk.length >= RELEASE_MIN_BYTES && wholeArrayBuffer(chunk) !== undefined) {
      ok = sink.write(chunk, () => release(chunk));
      // A large body is under way: from now on its socket reads are released too.
      if (reads === undefined && upstream !== undefined && !source.complete)
        reads = new ReadRelease(upstream, source);
    } else {
      ok = sink.write(chunk);
    }
    if (reads !== undefined) reads.emitted = chunk.buffer;
    if (!ok) source.pause();
  });
  sink.on('drain', () => source.resume());
  source.on('end', () => sink.end());
  // As `pipe` does: a source paused before (a 'data' listener alone would not resume it) flows
  // now, unless the sink is already full.
  if (!sink.writableNeedDrain && source.readableFlowing !== true) source.resume();
}

/**
 * Releases each read of an upstream socket once node's HTTP parser is done with it, while one
 * response body streams from it. Until this process has seen the parser copy a chunk, a read is
 * released only when provably no chunk views it: every chunk parsed from it was emitted (none
 * waits in the response's buffer) and the one emitted last is not in its memory.
 */
class ReadRelease {
  /** the ArrayBuffer of the last chunk emitted while the current read was parsed */
  emitted: ArrayBufferLike | undefined = undefined;
  readonly #socket: Socket;
  readonly #body: IncomingMessage;

  constructor(socket: Socket, body: IncomingMessage) {
    this.#socket = socket;
    this.#body = body;
    socket.prependListener('data', this.#beforeParse);
    socket.on('data', this.#afterParse);
    body.on('end', this.#stop);
    body.on('close', this.#stop);
  }

  readonly #beforeParse = (): void => {
    this.emitted = undefined;
  };

  readonly #afterParse = (read: Buffer): void => {
    const ab = wholeArrayBuffer(read);
    if (ab !== undefined && (parserCopies || this.#unviewed(ab))) detach(ab);
    // The socket goes back to the agent after this response: the next exchange's reads are not ours.
    if (this.#body.complete) this.#stop();
  };

  #unviewed(read: ArrayBuffer): boolean {
    if (this.#body.readableLength !== 0 || this.emitted === read) return false;
    if (this.emitted !== undefined) parserCopies = true; // a chunk of this read, in memory of its own
    return true;
  }

  readonly #stop = (): void => {
    this.#socket.off('data', this.#beforeParse);
    this.#socket.off('data', this.#afterParse);
  };
}
