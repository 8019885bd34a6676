/**
 * The reference proxy: http-proxy-3 alone, with Gatehouse's own keep-alive agent settings
 * (`createAgentPool`), no routing, no auth, no audit. Whatever Gatehouse costs on top of this is
 * the price of identity awareness.
 * `FORWARDED=1` configures it as any production reverse proxy is: `X-Forwarded-*` headers
 * (`xfwd`) and a response timeout (`proxyTimeout`), the two things Gatehouse's proxy stage does
 * on every request besides identity. The plain form is issue 9's reference; this one separates
 * what identity costs from what forwarding costs.
 * `PORT=… UPSTREAM=http://127.0.0.1:… [FORWARDED=1] node bench/macro/bare-proxy.ts`
 */
import { createServer } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { createAgentPool } from '../../src/proxy/agent-pool.ts';

const upstream = new URL(String(process.env.UPSTREAM));
const agent = createAgentPool().get(upstream);
const forwarded = process.env.FORWARDED === '1';
const proxy = createProxyServer({
  target: upstream.href,
  agent,
  xfwd: forwarded,
  ...(forwarded ? { proxyTimeout: 30_000 } : {}),
});
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502);
  res.end();
});
const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => proxy.web(req, res));
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
