/**
 * The bench upstream: answers every request with a small JSON body (1 MiB under `/big`) once
 * its request body is read, keep-alive, nothing else.
 * Run by the macro bench in its own process: `PORT=… node bench/macro/upstream.ts`.
 */
import { createServer } from 'node:http';

const body = Buffer.from('{"ok":true,"service":"bench-upstream"}\n');
/** `/big…`: 1 MiB, for the forwarding-engine bench's large responses */
const big = Buffer.alloc(1024 * 1024, 'x');
const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  // An upload is read to its end before the answer, as an API would.
  req.resume();
  req.once('end', () => {
    const out = req.url?.startsWith('/big') ? big : body;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
    res.end(out);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
