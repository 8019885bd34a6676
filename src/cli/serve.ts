/**
 * `gatehouse serve`: run until SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads the config.
 * A config error at startup prints every problem as FILE:LINE:COL and exits 1.
 */
import cluster from 'node:cluster';
import { ConfigError } from '../errors.ts';
import { startGatehouse } from '../server/gatehouse.ts';
import { attachWorker, runClusterIfConfigured, workerStartOptions } from '../server/workers.ts';
import { missingConfigFile } from './config-file.ts';

export async function runServe(configFile: string): Promise<number> {
  const missing = missingConfigFile(configFile);
  if (missing !== undefined) {
    process.stderr.write(missing);
    return 1;
  }
  if (cluster.isPrimary) {
    const code = await runClusterIfConfigured(configFile); // server.workers > 1: this process supervises
    if (code !== undefined) return code;
  }
  let gh: Awaited<ReturnType<typeof startGatehouse>>;
  try {
    gh = attachWorker(await startGatehouse({ configFile, ...workerStartOptions() }));
  } catch (err) {
    // A worker's IPC channel holds its event loop open while it starts; a failed start lets go
    // so the worker exits and the primary sees it.
    if (cluster.isWorker) process.channel?.unref();
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const log = gh.current().log;
  process.on('SIGHUP', () => {
    log.info({}, 'SIGHUP: reloading config');
    void gh.reload();
  });
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      gh.shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
