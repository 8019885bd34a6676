/**
 * Sends bytes exactly as written – request targets and headers that `fetch` and `http.request`
 * would normalize or refuse – and reads the answer until the server closes or `timeoutMs`.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

export function rawRequest(port: number, head: string, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const split = raw.indexOf('\r\n\r\n');
      const lines = raw.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const rest = raw.slice(split + 4);
      const body = /chunked/i.test(headers['transfer-encoding'] ?? '') ? dechunk(rest) : rest;
      resolve({ status: Number(lines[0]?.split(' ')[1]), headers, body, raw });
    });
    // No half-close: node's server aborts in-flight requests when the client sends FIN. Callers
    // send `Connection: close` so the server closes after its one answer.
    socket.write(head.endsWith('\r\n\r\n') ? head : `${head}\r\n\r\n`);
  });
}

/** Decodes a chunked body (bounded: each step consumes at least the size line). */
function dechunk(text: string): string {
  let out = '';
  let at = 0;
  while (at < text.length) {
    const eol = text.indexOf('\r\n', at);
    if (eol === -1) break;
    const size = Number.parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) break;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  return out;
}
