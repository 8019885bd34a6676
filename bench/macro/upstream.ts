/**
 * The bench upstream: answers every request with a small JSON body, keep-alive, nothing else.
 * Run by the macro bench in its own process: `PORT=… node bench/macro/upstream.ts`.
 */
import { createServer } from 'node:http';

const body = Buffer.from('{"ok":true,"service":"bench-upstream"}\n');
const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
