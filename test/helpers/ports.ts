/**
 * A loopback port for a server that must know its own port before it starts (a `public_url`, an
 * IdP's redirect URI): taken from the OS, then released. Someone else could take it meanwhile,
 * which on a test machine does not happen in practice.
 */
import { type AddressInfo, createServer } from 'node:net';

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
