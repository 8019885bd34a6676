/**
 * A loopback port for a server that must know its own port before it starts (a `public_url`, an
 * IdP's redirect URI): taken from the OS, then released. Someone else could take it meanwhile,
 * which on a test machine does not happen in practice.
 */
import { type AddressInfo, connect, createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once something accepts connections on loopback `port`; rejects after `timeoutMs`, or
 * at once when `gone()` says the process that should listen has exited (`what` names it).
 */
export function waitForPort(
  port: number,
  timeoutMs: number,
  gone: () => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (gone()) return reject(new Error(`${what} exited`));
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} not listening after ${timeoutMs}ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}
