/**
 * The development provider's HTTP server on loopback. It listens before the provider exists –
 * the provider's issuer needs the port – and answers 503 until `serve` attaches it.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class LoopbackServer {
  /** counts of requests by path, e.g. `/jwks` – tests read how often Gatehouse called */
  readonly hits = new Map<string, number>();
  readonly #server: Server;
  #handler: RequestListener = (_req, res) => res.writeHead(503).end();

  constructor() {
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
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
