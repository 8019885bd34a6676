/**
 * Listening on a unix domain socket (`server.listen: unix:/run/gatehouse/gatehouse.sock`), so
 * nginx or Caddy on the same host reach Gatehouse without TCP.
 *
 * - A socket file left by a crashed process makes listen fail with EADDRINUSE. It is removed
 *   only when nothing answers on it: connect first, unlink only on ECONNREFUSED. A live socket
 *   (another Gatehouse, or anything else) is never stolen: that is a startup error.
 * - `server.socket_mode` is applied after listen. The file is created with the process umask
 *   first, so a peer may connect in that instant only if the umask already allowed it.
 * - On shutdown the file is removed (libuv unlinks it on close; we unlink what is still ours).
 * @see https://man7.org/linux/man-pages/man7/unix.7.html
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';

/** How long a connect to an existing socket file may take before it counts as live (busy). */
const PROBE_TIMEOUT_MS = 1000;

/** A socket file something still answers on, or a path that is not a socket at all. */
export class SocketInUseError extends Error {
  readonly code = 'ERR_SOCKET_IN_USE';
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SocketInUseError';
  }
}

/**
 * Before listening on `path`: nothing there → ok; a socket nobody answers on → removed; a live
 * socket or a file that is not a socket → SocketInUseError (never removed).
 */
export async function removeStaleSocket(path: string): Promise<'absent' | 'removed'> {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
  if (!stat.isSocket())
    throw new SocketInUseError(
      `listen "unix:${path}": the path exists and is not a socket; refusing to remove it`,
    );
  const answer = await probe(path);
  if (answer === 'live')
    throw new SocketInUseError(
      `listen "unix:${path}": another process is listening on this socket; stop it or choose another path`,
    );
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return 'removed';
}

/** `refused` only on ECONNREFUSED (no listener behind the file); any other outcome is `live`. */
function probe(path: string): Promise<'live' | 'refused'> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    const done = (answer: 'live' | 'refused') => {
      clearTimeout(timer);
      sock.destroy();
      resolve(answer);
    };
    // A listener with a full backlog does not accept at once: still live.
    const timer = setTimeout(() => done('live'), PROBE_TIMEOUT_MS);
    sock.once('connect', () => done('live'));
    sock.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'refused' : 'live'),
    );
  });
}

/** After listen: apply the mode; returns the inode, so shutdown removes only its own file. */
export function applySocketMode(path: string, mode: number): number {
  chmodSync(path, mode);
  return Number(lstatSync(path).ino);
}

/** After close: remove the socket file if it is still the one this process created. */
export function removeOwnSocket(path: string, ino: number): void {
  try {
    if (Number(lstatSync(path).ino) === ino) unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
