/**
 * The demo upstream: a page that shows exactly which identity headers it received, so a
 * newcomer sees what an upstream application learns about the caller without changing code.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startDemoUpstream(port = 0): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const rows = Object.entries(req.headers)
      .filter(
        ([name]) =>
          name.startsWith('x-auth-request-') ||
          name.startsWith('x-gatehouse') ||
          name.startsWith('x-forwarded-') ||
          name === 'x-request-id',
      )
      .map(([name, value]) => `<tr><th>${esc(name)}</th><td><code>${esc(String(value))}</code></td></tr>`)
      .join('');
    const json = req.headers.accept?.includes('application/json');
    if (json) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, headers: req.headers }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><meta charset="utf-8"><title>Gatehouse demo upstream</title>
<style>body{font:15px system-ui;margin:2rem;max-width:60rem}th{text-align:left;padding-right:1rem;vertical-align:top}code{word-break:break-all}</style>
<h1>Hello from the demo upstream</h1>
<p>You asked for <code>${esc(req.url ?? '/')}</code>. These are the identity headers Gatehouse sent with your request:</p>
<table>${rows || '<tr><td>none (a public route)</td></tr>'}</table>
<p>Try <a href="/admin">/admin</a> (group admins only), <a href="/public">/public</a> (no login),
<a href="/.gatehouse/userinfo">/.gatehouse/userinfo</a>, or <a href="/.gatehouse/sign_out?rd=/public">sign out</a> (lands on /public).</p>`);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
