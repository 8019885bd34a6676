/**
 * The route table: host + path prefix + method → route, compiled once per config load.
 *
 * Precedence, most specific first:
 * 1. host: exact (`app.example.com`) > wildcard (`*.example.com`, any subdomain, never the apex;
 *    a longer suffix wins) > any host; a host written with a port beats the same host without;
 * 2. the longest path prefix (segment-aware: `/admin` matches `/admin`, `/admin/`, `/admin/x`,
 *    never `/administrator`);
 * 3. a route listing `methods` over one that does not;
 * 4. config order.
 * A route whose methods do not include the request's is skipped, so the next candidate answers.
 *
 * Hosts compare case-insensitively with one trailing dot ignored. A configured host without a
 * port matches any port; one with a port matches only that port as written in `Host`.
 * Methods match exactly: `[GET]` does not imply `HEAD`.
 *
 * Compilation sorts candidates by that order, so matching walks a short pre-sorted list and
 * returns the first hit: no regex, no allocation beyond lower-casing an upper-case host.
 */
import type { RouteConfig } from '../config/schema.ts';
import { parseRequestTarget } from '../http/request-target.ts';

export interface CompiledRoute {
  readonly name: string;
  readonly config: RouteConfig;
  /** the upstream URL; never mutate it */
  readonly upstream: URL;
  /** audience of the signed assertion: `config.audience` ?? the upstream's origin */
  readonly audience: string;
}

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  match(host: string | undefined, path: string, method: string): CompiledRoute | undefined;
  byName(name: string): CompiledRoute | undefined;
}

interface Candidate {
  readonly route: CompiledRoute;
  readonly index: number;
  /** 0 exact, 1 wildcard, 2 any host */
  readonly hostKind: 0 | 1 | 2;
  /** exact: the host name; wildcard: the suffix including its leading dot */
  readonly hostName: string;
  /** '' = any port */
  readonly port: string;
  /** normalized, without a trailing slash ('/' stays '/') */
  readonly prefix: string;
  readonly methods: ReadonlySet<string> | undefined;
}

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

/** Splits a Host header or configured host into a lower-case name (one trailing dot dropped) and a port. */
export function splitHost(host: string): { name: string; port: string } {
  let name = host;
  let port = '';
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close !== -1) {
      name = host.slice(0, close + 1);
      if (host.charCodeAt(close + 1) === 58) port = host.slice(close + 2);
    }
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
  }
  name = name.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  return { name, port };
}

function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47;
}

/** Orders candidates most specific first (precedence in the module comment). */
export function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    a.hostKind - b.hostKind ||
    (a.hostKind === 1 ? b.hostName.length - a.hostName.length : 0) ||
    (b.port ? 1 : 0) - (a.port ? 1 : 0) ||
    b.prefix.length - a.prefix.length ||
    (b.methods ? 1 : 0) - (a.methods ? 1 : 0) ||
    a.index - b.index
  );
}

function compileOne(config: RouteConfig, index: number): Candidate {
  let upstream: URL;
  try {
    upstream = new URL(config.upstream);
  } catch {
    throw invalid(`routes[${index}].upstream "${config.upstream}" is not a URL`);
  }
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
    throw invalid(`routes[${index}].upstream must be http: or https:`);
  }
  if (upstream.username || upstream.password) {
    throw invalid(`routes[${index}].upstream must not carry credentials`);
  }
  upstream.hash = '';
  let prefix: string;
  try {
    prefix = parseRequestTarget(config.match.path).path;
  } catch {
    throw invalid(`routes[${index}].match.path "${config.match.path}" is not a valid path`);
  }
  if (prefix.length > 1 && prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  const route: CompiledRoute = Object.freeze({
    name: config.name,
    config,
    upstream,
    audience: config.audience ?? upstream.origin,
  });
  const host = config.match.host;
  const methods = config.match.methods
    ? new Set(config.match.methods.map((m) => m.toUpperCase()))
    : undefined;
  if (host === undefined) return { route, index, hostKind: 2, hostName: '', port: '', prefix, methods };
  const { name, port } = splitHost(host);
  if (name.startsWith('*.')) {
    return { route, index, hostKind: 1, hostName: name.slice(1), port, prefix, methods };
  }
  return { route, index, hostKind: 0, hostName: name, port, prefix, methods };
}

/**
 * Compiles `routes` (already schema-validated) into a table.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) for a duplicate name, a bad upstream or path.
 */
export function compileRoutes(routes: readonly RouteConfig[]): RouteTable {
  const candidates = routes.map(compileOne);
  const byName = new Map<string, CompiledRoute>();
  for (const c of candidates) {
    if (byName.has(c.route.name)) throw invalid(`routes[${c.index}].name "${c.route.name}" is used twice`);
    byName.set(c.route.name, c.route);
  }
  const exact = new Map<string, Candidate[]>();
  const wildcard: Candidate[] = [];
  const anyHost: Candidate[] = [];
  for (const c of [...candidates].sort(compareCandidates)) {
    if (c.hostKind === 0) {
      const list = exact.get(c.hostName);
      if (list) list.push(c);
      else exact.set(c.hostName, [c]);
    } else if (c.hostKind === 1) {
      wildcard.push(c);
    } else {
      anyHost.push(c);
    }
  }

  const firstMatch = (
    list: readonly Candidate[],
    hostName: string,
    port: string,
    path: string,
    method: string,
  ) => {
    for (const c of list) {
      if (c.port !== '' && c.port !== port) continue;
      if (c.hostKind === 1 && !(hostName.length > c.hostName.length && hostName.endsWith(c.hostName)))
        continue;
      if (!prefixMatches(c.prefix, path)) continue;
      if (c.methods && !c.methods.has(method)) continue;
      return c.route;
    }
    return undefined;
  };

  return Object.freeze({
    routes: Object.freeze(candidates.map((c) => c.route)),
    match(host: string | undefined, path: string, method: string) {
      let hostName = '';
      let port = '';
      if (host) ({ name: hostName, port } = splitHost(host));
      if (hostName) {
        const list = exact.get(hostName);
        const hit =
          (list && firstMatch(list, hostName, port, path, method)) ??
          firstMatch(wildcard, hostName, port, path, method);
        if (hit) return hit;
      }
      return firstMatch(anyHost, hostName, port, path, method);
    },
    byName(name: string) {
      return byName.get(name);
    },
  });
}
