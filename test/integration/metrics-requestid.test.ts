/**
 * What operators rely on, scraped for real: every metric the README documents exists with its
 * documented labels after traffic; label values come from config only (1,000 random paths add
 * no series); the Grafana dashboard queries only metrics that exist; and `X-Request-Id` is kept
 * from a trusted proxy (response, upstream, audit) and replaced from anyone else.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/demo/dev-idp.ts';
import { idpBearer, route, testConfig } from '../helpers/config.ts';
import { freePort, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.ts';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small Prometheus text-format parser: `# TYPE` families and samples with labels. */
export function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/** The family a sample belongs to (histograms expose _bucket/_sum/_count). */
function family(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return types.has(base) ? base : name;
}

/** `| metric | labels |` rows of the README's "Metrics and logs" table. */
function documentedMetrics(): Map<string, string[]> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Metrics and logs'), readme.indexOf('## Development'));
  const out = new Map<string, string[]>();
  for (const [, name, labels] of section.matchAll(/^\| `(gatehouse_[a-z_]+)` \| (.*) \|$/gm)) {
    out.set(name!, [...labels!.matchAll(/`([a-z_]+)`/g)].map((x) => x[1]!).sort());
  }
  return out;
}

let idp: DevIdp;
let upstream: EchoUpstream;
let gh: TestGatehouse;
let untrusted: TestGatehouse;

async function scrape(target = gh) {
  const res = await request(`${target.adminUrl}/metrics`);
  return parseExposition(await res.body.text());
}

async function hit(path: string, headers: Record<string, string> = {}, target = gh) {
  const res = await request(`${target.url}${path}`, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

before(async () => {
  upstream = await startEchoUpstream();
  const port = await freePort();
  idp = await startDevIdp({ redirectUris: [`http://127.0.0.1:${port}/.gatehouse/callback`] });
  const dead = await freePort();
  const routes = [
    route('public', '/public', upstream.url, { policy: 'public' }),
    route('down', '/down', `http://127.0.0.1:${dead}`, { policy: 'public' }),
    route('app', '/app', upstream.url),
  ];
  gh = await startTestGatehouse(
    testConfig({
      idp,
      server: { trusted_proxies: ['127.0.0.1/32'] },
      bearer: [idpBearer(idp)],
      routes,
    }),
    { port },
  );
  // No trusted proxy, no login: the public routes only.
  untrusted = await startTestGatehouse(testConfig({ routes: routes.slice(0, 2) }));
  await gh.ready();
});

after(async () => {
  await gh?.close();
  await untrusted?.close();
  await idp?.close();
  await upstream?.close();
});

describe('metrics', () => {
  it('every documented metric exists with its documented labels after traffic', async () => {
    await hit('/public/x');
    await hit('/app/x', { accept: 'application/json' });
    await hit('/app/x', { authorization: 'Bearer not.a.token' });
    await hit('/down/x');
    await hit('/.gatehouse/callback?state=bogus');
    await gh.gh.reload();
    const { types, samples } = await scrape();
    const documented = documentedMetrics();
    assert.ok(documented.size >= 10, `README documents ${documented.size} metrics`);
    for (const [name, labels] of documented) {
      assert.ok(types.has(name), `${name} is exposed`);
      const own = samples.filter((s) => family(s.name, types) === name);
      if (own.length === 0) continue; // a labelled family without events yet (e.g. store errors)
      for (const s of own) {
        const keys = Object.keys(s.labels)
          .filter((k) => k !== 'le')
          .sort();
        assert.deepEqual(keys, labels, `${s.name} labels`);
      }
    }
    const has = (name: string, labels: Record<string, string>) =>
      samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    assert.ok(has('gatehouse_requests_total', { route: 'public', decision: 'allow' }));
    assert.ok(has('gatehouse_requests_total', { route: 'app', decision: 'login' }));
    assert.ok(has('gatehouse_upstream_errors_total', { route: 'down', kind: 'unreachable' }));
    assert.ok(has('gatehouse_upstream_duration_seconds_count', { route: 'public' }));
    assert.ok(has('gatehouse_auth_duration_seconds_count', { auth_type: 'anonymous' }));
    assert.ok(has('gatehouse_jwks_refresh_total', { issuer: idp.issuer, result: 'ok' }));
    assert.ok(has('gatehouse_logins_total', { result: 'failure' }));
    assert.ok(has('gatehouse_config_reload_total', { result: 'success' }));
    assert.ok(has('gatehouse_cache_lookups', { cache: 'tokens', result: 'miss' }));
    assert.ok(types.has('process_resident_memory_bytes'), 'default process metrics');
  });

  it('1,000 random paths do not grow the number of series', async () => {
    await hit('/nowhere/warmup');
    await hit('/app/warmup', { accept: 'application/json' });
    const count = async () => (await scrape()).samples.filter((s) => s.name.startsWith('gatehouse_')).length;
    const before = await count();
    for (let i = 0; i < 1000; i++) {
      const path = `/${i % 2 ? 'app' : 'nowhere'}/${Math.random().toString(36).slice(2)}?q=${i}`;
      await hit(path, { accept: 'application/json', 'x-request-id': `id-${i}` });
    }
    assert.equal(await count(), before);
  });

  it('the Grafana dashboard parses and queries only metrics that exist', async () => {
    const dash = JSON.parse(
      readFileSync(new URL('../../config/grafana/gatehouse.json', import.meta.url), 'utf8'),
    ) as {
      title: string;
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    assert.ok(Array.isArray(dash.panels) && dash.panels.length >= 10);
    const { types } = await scrape();
    const used = new Set<string>();
    for (const panel of dash.panels) {
      assert.ok(panel.targets.length > 0, `${panel.title} has a query`);
      for (const t of panel.targets)
        for (const [name] of t.expr.matchAll(/\b(?:gatehouse|process|nodejs)_[a-z_]+\b/g)) used.add(name);
    }
    for (const name of used) assert.ok(types.has(family(name, types)), `${name} (dashboard) is exposed`);
    for (const name of documentedMetrics().keys())
      assert.ok(used.has(name) || [...used].some((u) => u.startsWith(name)), `${name} has a panel`);
  });
});

describe('X-Request-Id', () => {
  it('is kept from a trusted proxy: response, upstream and audit line', async () => {
    const res = await hit('/public/rid', { 'x-request-id': 'edge-1234.abc' });
    assert.equal(res.headers['x-request-id'], 'edge-1234.abc');
    assert.equal(upstream.requests.at(-1)?.headers['x-request-id'], 'edge-1234.abc');
    await gh.auditLine((l) => l.request_id === 'edge-1234.abc' && l.path === '/public/rid', {
      timeoutMs: 5000,
      what: 'the audit line with the kept request id',
    });
  });

  it('is replaced when the peer is not a trusted proxy, or when it is not a plain token', async () => {
    const res = await hit('/public/rid2', { 'x-request-id': 'spoofed-1' }, untrusted);
    const id = res.headers['x-request-id'] as string;
    assert.notEqual(id, 'spoofed-1');
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(upstream.requests.at(-1)?.headers['x-request-id'], id);
    await untrusted.auditLine((l) => l.request_id === id, {
      timeoutMs: 5000,
      what: 'the audit line with the replaced request id',
    });
    const weird = await hit('/public/rid3', { 'x-request-id': 'a b<script>' });
    assert.match(weird.headers['x-request-id'] as string, /^[0-9a-f-]{36}$/);
  });
});
