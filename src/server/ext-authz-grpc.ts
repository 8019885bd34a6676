/**
 * The gRPC listener for Envoy's ext_authz filter (`grpc_service`), Envoy Gateway's and Istio's
 * `envoyExtAuthzGrpc` providers: `envoy.service.auth.v3.Authorization` on `ext_authz.grpc.listen`,
 * plaintext HTTP/2 (h2c), as Envoy reaches a sidecar or a cluster-local service. Every call reads
 * the live runtime, so a reload applies to the next check; the listen address itself is read at
 * start only.
 *
 * Envoy's own protos come from `@grpc/grpc-js-xds`, the gRPC project's xDS package, which ships
 * Envoy's published API (envoy-api, xds, googleapis, protoc-gen-validate) as `.proto` files. They
 * are loaded on first use only: a Gatehouse without `ext_authz.grpc` pays nothing for them.
 * @see https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/ext_authz_filter
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Log } from '../observe/logger.ts';
import { type CheckRequest, type CheckResponse, checkForEnvoy } from '../pipeline/ext-authz-grpc.ts';
import type { Runtime } from '../pipeline/runtime.ts';
import { unixSocketPath } from './admin.ts';
import { applySocketMode, removeOwnSocket, removeStaleSocket } from './unix-socket.ts';

/** grpc-js, imported lazily. */
type Grpc = typeof import('@grpc/grpc-js');
type ServiceClientConstructor = import('@grpc/grpc-js').ServiceClientConstructor;

export interface ExtAuthzGrpcServer {
  /** `host:port` as bound (port 0 resolved), or `unix:/path` */
  readonly address: string;
  /** stops accepting; in-flight checks get `graceMs` to finish */
  close(graceMs: number): Promise<void>;
}

const PROTO = 'envoy/service/auth/v3/external_auth.proto';
const INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'];

/**
 * Starts the service on `listen`. On a unix socket every peer is Envoy: who may connect is the
 * socket file's mode (`server.socket_mode`), as for a unix `server.listen`. On TCP only
 * `server.trusted_proxies` may ask.
 */
export async function startExtAuthzGrpc(
  listen: string,
  socketMode: number,
  current: () => Runtime,
  log: Log,
): Promise<ExtAuthzGrpcServer> {
  const path = unixSocketPath(listen);
  if (path !== undefined) await removeStaleSocket(path);
  const grpc = await import('@grpc/grpc-js');
  const { service } = await loadAuthorization(grpc);
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
  server.addService(service, {
    Check(
      call: import('@grpc/grpc-js').ServerUnaryCall<CheckRequest, CheckResponse>,
      done: import('@grpc/grpc-js').sendUnaryData<CheckResponse>,
    ) {
      checkForEnvoy(call.request, path !== undefined || peerAddress(call.getPeer()), current()).then(
        (response) => done(null, response),
        (err: unknown) => {
          // check() turns its own failures into verdicts: this is a defect, never a client's doing.
          log.error({ err }, 'ext_authz gRPC check failed');
          done({ code: grpc.status.INTERNAL, details: 'internal_error' });
        },
      );
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const ino = path === undefined ? undefined : applySocketMode(path, socketMode);
  const address = path !== undefined ? listen : `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
  log.info({ listen: address }, 'ext_authz gRPC service listening');
  return {
    address,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          if (path !== undefined && ino !== undefined) removeOwnSocket(path, ino);
          resolve();
        });
      }),
  };
}

/**
 * `envoy.service.auth.v3.Authorization` from Envoy's protos: its service definition, and as a
 * client constructor (what a test of this service, or an operator's probe, calls it with).
 */
export async function loadAuthorization(grpc: Grpc): Promise<ServiceClientConstructor> {
  const loader = await import('@grpc/proto-loader');
  const require = createRequire(import.meta.url);
  const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  const definition = await loader.load(PROTO, {
    includeDirs: INCLUDE_DIRS.map((dir) => join(deps, dir)),
    keepCase: true, // field names as in the proto (`ok_response`), which CheckResponse spells
    enums: String,
    longs: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: ServiceClientConstructor } } } };
  };
  return pkg.envoy.service.auth.v3.Authorization;
}

/**
 * grpc-js names a TCP peer `address:port` (an IPv6 address unbracketed): the port is cut off.
 * Anything else (`unknown`) is no address, which no CIDR trusts.
 */
export function peerAddress(peer: string): string {
  const m = /^(.+):\d+$/.exec(peer);
  return m ? m[1]!.replace(/^\[(.*)\]$/, '$1') : '';
}
