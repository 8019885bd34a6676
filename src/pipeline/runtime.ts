/**
 * The pipeline's contract: everything one config provides at request time, by concern. Each
 * stage names the concerns it reads, so a stage's dependencies are visible in its signature and
 * a unit test builds only those. `server/build-runtime.ts` composes a whole {@link Runtime}; a
 * reload builds a new one and swaps one reference, so a request keeps the rules it started with.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { LoadedConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { AssertionSigner } from '../identity/assertion.ts';
import type { SigningKeys } from '../identity/signing-keys.ts';
import type { AuditLog } from '../observe/audit.ts';
import type { Log } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { RecentDecisions } from '../observe/recent-decisions.ts';
import type { EndpointHandler, LoginEndpoints } from '../oidc/login-shared.ts';
import type { OidcClient } from '../oidc/oidc-client.ts';
import type { Refresher } from '../oidc/refresh.ts';
import type { Pages } from '../pages/pages.ts';
import type { CompiledPolicy } from '../policy/compile-policy.ts';
import type { IdpDirectory } from '../policy/idp-directory.ts';
import type { CompiledRoute, RouteTable } from '../policy/route-table.ts';
import type { UpstreamProxy } from '../proxy/upstream-proxy.ts';
import type { SessionCodec } from '../session/cookie-codec.ts';
import type { SharedStore } from '../store/store.ts';
import type { BearerVerifier } from '../tokens/bearer-verifier.ts';
import type { Limiting } from './rate-limit.ts';

/** Logs, metrics and the audit trail. */
export interface Observing {
  readonly log: Log;
  readonly metrics: Metrics;
  readonly audit: AuditLog;
  /** the last decisions for the admin live view (`admin.live_view`); absent when it is off */
  readonly recent?: RecentDecisions;
}

/** Long-lived parts shared by every Runtime of one process (they outlive a reload). */
export interface Shared extends Observing {
  readonly dispatcher: Dispatcher;
  readonly proxy: UpstreamProxy;
  /** revocations, one-time login markers and refresh locks, shared by replicas */
  readonly store: SharedStore;
}

/** Where a browser signs in for one route. */
export interface LoginTarget {
  /** `{prefix}/start` on the public origin, or a path when the origin is the request's own */
  readonly startUrl: string;
  /** the route accepts sessions and a login provider exists */
  readonly canLogin: boolean;
  /** the one provider the route accepts, when several are configured: no chooser then */
  readonly provider?: string;
}

/** accept + route: who may speak for the client, and which route and policy a request meets. */
export interface Routing {
  readonly prefix: string;
  readonly publicOrigin?: URL;
  readonly routes: RouteTable;
  readonly policies: ReadonlyMap<string, CompiledPolicy>;
  readonly isTrustedProxy: (ip: string | undefined) => boolean;
  loginTarget(route: CompiledRoute): LoginTarget;
  /** every page a browser may be shown (errors, sign-in, signed out …), with the `ui:` settings */
  readonly pages?: Pages;
}

/** identify + refresh: credentials to an Identity. */
export interface Identifying extends Observing {
  readonly config: Config;
  /** provider names and role mappings, by issuer and by provider */
  readonly idps: IdpDirectory;
  readonly bearer?: BearerVerifier;
  readonly sessions?: SessionCodec;
  readonly refresher?: Refresher;
  readonly store: SharedStore;
}

/** forward: what the upstream receives about an allowed request, and the proxy that sends it. */
export interface Forwarding {
  readonly config: Config;
  readonly proxy: UpstreamProxy;
  readonly assertions: AssertionSigner;
  readonly stripInbound: (headers: IncomingHttpHeaders) => void;
  readonly isOwnCookie: (name: string) => boolean;
}

/** `{prefix}/…` endpoints that are not a policy check: login, logout, keys. */
export interface Endpoints {
  /** one client per login provider, by name */
  readonly oidcClients: ReadonlyMap<string, OidcClient>;
  readonly login?: LoginEndpoints;
  /** `{prefix}/backchannel_logout` (OIDC Back-Channel Logout), when login is configured */
  readonly backchannelLogout?: EndpointHandler;
}

export interface Runtime extends Shared, Routing, Identifying, Limiting, Forwarding, Endpoints {
  readonly loaded: LoadedConfig;
  readonly signingKeys: SigningKeys;
  /** config compiled, discovery done and every bearer issuer has keys */
  ready(): boolean;
  close(): void;
}
