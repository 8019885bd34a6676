/**
 * The development provider's HTTP server on loopback. It listens before the provider exists –
 * the provider's issuer needs the port – and answers 503 until `serve` attaches it.
 */
import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class LoopbackServer {
  /** counts of requests by path, e.g. `/jwks` – tests read how often Gatehouse called */
  readonly hits = new Map<string, number>();
  readonly #server: Server;
  #handler: RequestListener = (_req, res) => res.writeHead(503).end();
  #hint: string | undefined;

  constructor() {
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      if (this.#hint !== undefined && path.startsWith('/interaction/')) withHint(res, this.#hint);
      this.#handler(req, res);
    });
  }

  /** Listens on 127.0.0.1:`port` (0: a free port); resolves to the port. */
  async listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    return (this.#server.address() as AddressInfo).port;
  }

  /** HTML shown under the provider's login form (the demo names its users there) */
  hint(html: string): void {
    this.#hint = html;
  }

  serve(handler: RequestListener): void {
    this.#handler = handler;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

/**
 * Adds `hint` after the login form of an HTML page. The provider (koa) writes a page with one
 * `end(body)`, its headers not yet sent, so the length can still be set to the new body's.
 */
function withHint(res: ServerResponse, hint: string): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [body] = args;
    const html = String(res.getHeader('content-type') ?? '').startsWith('text/html');
    if (html && !res.headersSent && (typeof body === 'string' || Buffer.isBuffer(body))) {
      const text = body.toString();
      if (text.includes('name="login"') && text.includes('</form>')) {
        const out = text.replace('</form>', `</form>${hint}`);
        res.setHeader('content-length', Buffer.byteLength(out));
        return end(out, ...args.slice(1));
      }
    }
    return end(...args);
  }) as typeof res.end;
}
