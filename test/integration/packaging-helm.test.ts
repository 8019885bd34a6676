/**
 * config/helm/gatehouse without helm: values against values.schema.json, every `.Values` path a
 * template reads, each template's YAML skeleton, the objects' wiring (ports, probes, mounts), and
 * the gatehouse.yaml the chart renders from the default values through gatehouse's own loader.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { envOf, instructionsOf, parseDockerfile, REPO } from '../helpers/packaging.ts';

const CHART = join(REPO, 'config', 'helm', 'gatehouse');
const TEMPLATES = join(CHART, 'templates');
type Obj = Record<string, unknown>;

const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Obj;
const chart = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
const templateFiles = readdirSync(TEMPLATES).sort();
const templateText = (f: string) => readFileSync(join(TEMPLATES, f), 'utf8');
const helpers = templateText('_helpers.tpl');

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile(schema);

const clone = <T>(v: T): T => structuredClone(v);
function withValue(path: string, value: unknown): Obj {
  const v = clone(values);
  const keys = path.split('.');
  let o: Obj = v;
  for (const k of keys.slice(0, -1)) {
    o[k] ??= {};
    o = o[k] as Obj;
  }
  o[keys.at(-1)!] = value;
  return v;
}

describe('Chart.yaml', () => {
  test('is a v2 application chart whose appVersion is the package version', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'gatehouse');
    assert.equal(chart.type, 'application');
    assert.match(String(chart.version), /^\d+\.\d+\.\d+/);
    assert.equal(chart.appVersion, pkg.version);
  });
});

describe('values.schema.json', () => {
  test('accepts values.yaml', () => {
    assert.ok(validate(values), ajv.errorsText(validate.errors));
  });

  test('is strict at the top level and in the chart’s own objects', () => {
    assert.equal(schema.additionalProperties, false);
    const props = schema.properties as Record<string, Obj>;
    for (const key of Object.keys(values)) assert.ok(props[key], `values key ${key} is in the schema`);
    for (const key of ['image', 'service', 'autoscaling', 'secrets', 'store', 'config', 'probes']) {
      assert.equal(props[key]?.additionalProperties, false, `${key} is strict`);
    }
  });

  const bad: [string, string, unknown][] = [
    ['an unknown top-level key', 'replicas', 3],
    ['a misspelt nested key', 'service.adminport', 9090],
    ['running as root allowed', 'securityContext.runAsNonRoot', false],
    ['privilege escalation', 'securityContext.allowPrivilegeEscalation', true],
    ['a port out of range', 'service.port', 70000],
    ['an unknown store type', 'store.type', 'postgres'],
    ['a non-redis store URL', 'store.redisUrl', 'http://redis:6379'],
    ['a short cookie secret', 'secrets.cookieSecrets', ['too-short']],
    ['a tag in the digest field', 'image.digest', 'latest'],
    ['server.listen in config (the chart owns it)', 'config.server.listen', '0.0.0.0:1234'],
    ['a plaintext client secret in config', 'config.oidc.client_secret', 'hunter2'],
    ['session secrets in config', 'config.session.secrets', ['x'.repeat(40)]],
    ['admin in config (the chart owns it)', 'config.admin', { listen: '127.0.0.1:9090' }],
    ['store in config (the chart owns it)', 'config.store', 'memory'],
    ['an unknown config key', 'config.sesion', {}],
    ['a route without a policy', 'config.routes', [{ name: 'a', upstream: 'http://a' }]],
    ['no routes', 'config.routes', []],
    ['a bad pull policy', 'image.pullPolicy', 'Sometimes'],
  ];
  for (const [what, path, value] of bad) {
    test(`rejects ${what}`, () => {
      assert.equal(validate(withValue(path, value)), false, `${path}=${JSON.stringify(value)} was accepted`);
    });
  }
});

describe('templates read only values that exist', () => {
  const refs = new Map<string, string>();
  for (const f of templateFiles) {
    for (const m of templateText(f).matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      refs.set(m[1]!.slice(1), f);
    }
  }

  test('every .Values.x.y path is in values.yaml', () => {
    assert.ok(refs.size > 20, 'references were found');
    const missing: string[] = [];
    for (const [path, file] of refs) {
      let node: unknown = values;
      for (const key of path.split('.')) {
        if (node === null || typeof node !== 'object' || Array.isArray(node) || !(key in (node as Obj))) {
          missing.push(`${file}: .Values.${path}`);
          break;
        }
        node = (node as Obj)[key];
      }
    }
    assert.deepEqual(missing, []);
  });

  test('every top-level value is used by some template', () => {
    const used = new Set([...refs.keys()].map((p) => p.split('.')[0]));
    assert.deepEqual(
      Object.keys(values).filter((k) => !used.has(k)),
      [],
    );
  });
});

/**
 * A template with its actions stripped: control lines dropped, `… | nindent N` lines replaced by
 * a placeholder entry at indent N (a list item when the enclosing block is a list), inline
 * actions replaced by a scalar. What is left is the YAML the template always emits.
 */
function skeleton(text: string): string {
  const out: string[] = [];
  const indentOf = (l: string) => l.length - l.trimStart().length;
  text.split('\n').forEach((line, n) => {
    const bare = line.replace(/\{\{.*?\}\}/g, '');
    const nindent = /\bn?indent\s+(\d+)\s*-?\}\}\s*$/.exec(line);
    const item = /^(\s*)- \{\{-?.*\}\}\s*$/.exec(line);
    if (item) {
      out.push(`${item[1]}- __tpl_${n}__: x`);
    } else if (bare.trim() === '') {
      if (!nindent) return;
      const at = Number(nindent[1]);
      const parent = [...out].reverse().find((l) => l.trim() !== '' && indentOf(l) <= at);
      const isList = parent !== undefined && indentOf(parent) === at && parent.trimStart().startsWith('- ');
      out.push(`${' '.repeat(at)}${isList ? '- ' : ''}__tpl_${n}__: x`);
    } else {
      out.push(line.replace(/\{\{.*?\}\}/g, 'TPL'));
    }
  });
  return out.join('\n');
}

const objects = new Map<string, Obj>();
describe('template skeletons', () => {
  for (const f of templateFiles.filter((name) => name.endsWith('.yaml'))) {
    test(`${f} parses as one Kubernetes object`, () => {
      const doc = parseYaml(skeleton(templateText(f))) as Obj;
      assert.equal(typeof doc, 'object');
      assert.match(String(doc.apiVersion), /^([a-z0-9.-]+\/)?v\d+(beta\d+)?$/);
      assert.match(String(doc.kind), /^[A-Z][A-Za-z]+$/);
      const meta = doc.metadata as Obj;
      assert.ok(meta?.name, 'metadata.name');
      assert.ok(meta?.labels, 'metadata.labels');
      objects.set(String(doc.kind), doc);
    });
  }

  test('the chart has every object the design lists', () => {
    assert.deepEqual([...objects.keys()].sort(), [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Ingress',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    assert.equal(objects.get('HorizontalPodAutoscaler')?.apiVersion, 'autoscaling/v2');
    assert.equal(objects.get('PodDisruptionBudget')?.apiVersion, 'policy/v1');
    assert.equal(objects.get('Deployment')?.apiVersion, 'apps/v1');
  });

  test('ports, probes, mounts and rollout annotations are wired together', () => {
    const deploy = objects.get('Deployment') as Obj;
    const pod = (deploy.spec as Obj).template as Obj;
    const annotations = (pod.metadata as Obj).annotations as Obj;
    assert.ok('checksum/config' in annotations && 'checksum/secret' in annotations);
    const spec = pod.spec as Obj;
    assert.ok(spec.topologySpreadConstraints, 'topologySpreadConstraints');
    const [c] = spec.containers as Obj[];
    const ports = Object.fromEntries((c!.ports as Obj[]).map((p) => [p.name, p.containerPort]));

    // The chart sets the listen addresses in the config it renders; the ports must agree, and
    // agree with the image's EXPOSE.
    assert.match(helpers, new RegExp(`"listen" "0\\.0\\.0\\.0:${ports.http}"`));
    assert.match(helpers, new RegExp(`"listen" "0\\.0\\.0\\.0:${ports.admin}"`));
    const image = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).stages.at(-1)!;
    const exposed = instructionsOf(image, 'EXPOSE').flatMap((e) => e.args.map(Number));
    assert.ok(exposed.includes(Number(ports.http)) && exposed.includes(Number(ports.admin)));

    const probe = (name: string) => (c![name] as Obj).httpGet as Obj;
    assert.deepEqual(probe('livenessProbe'), { path: '/healthz', port: 'admin' });
    assert.deepEqual(probe('startupProbe'), { path: '/healthz', port: 'admin' });
    assert.deepEqual(probe('readinessProbe'), { path: '/readyz', port: 'admin' });

    // (entries without a name are the placeholders of extraVolumeMounts / extraVolumes)
    const named = (list: unknown) => (list as Obj[]).filter((x) => typeof x.name === 'string');
    const mounts = Object.fromEntries(named(c!.volumeMounts).map((m) => [m.name, m]));
    const volumes = Object.fromEntries(named(spec.volumes).map((v) => [v.name, v]));
    assert.equal((mounts.tmp as Obj).mountPath, '/tmp');
    assert.ok((volumes.tmp as Obj).emptyDir, '/tmp is an emptyDir');
    assert.equal(
      (mounts.secrets as Obj).mountPath,
      /define "gatehouse.secretDir" -\}\}(\S+)\{\{/.exec(helpers)?.[1],
    );
    assert.equal(
      (mounts.config as Obj).mountPath,
      envOf(image).GATEHOUSE_CONFIG,
      'the image’s default config path',
    );
    for (const name of Object.keys(mounts).filter((m) => m !== 'tmp')) {
      assert.equal((mounts[name] as Obj).readOnly, true, `${name} is mounted read-only`);
    }

    const service = objects.get('Service') as Obj;
    const servicePorts = (service.spec as Obj).ports as Obj[];
    for (const p of servicePorts) assert.ok(String(p.targetPort) in ports, `Service targets ${p.targetPort}`);
    const monitor = objects.get('ServiceMonitor') as Obj;
    const [endpoint] = (monitor.spec as Obj).endpoints as Obj[];
    assert.ok(servicePorts.some((p) => p.name === endpoint!.port) && endpoint!.port === 'admin');
    assert.equal(endpoint!.path, '/metrics');
    const hpa = objects.get('HorizontalPodAutoscaler') as Obj;
    assert.equal(((hpa.spec as Obj).scaleTargetRef as Obj).kind, 'Deployment');
  });

  test('pods are locked down by default', () => {
    const sc = values.securityContext as Obj;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.runAsUser, 65532);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual((sc.capabilities as Obj).drop, ['ALL']);
    assert.equal((sc.seccompProfile as Obj).type, 'RuntimeDefault');
    assert.equal(((values.podSecurityContext as Obj).seccompProfile as Obj).type, 'RuntimeDefault');
    const image = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).stages.at(-1)!;
    const user = instructionsOf(image, 'USER').at(-1)?.args[0]?.split(':')[0];
    assert.equal(String(sc.runAsUser), user, 'runAsUser is the image’s USER');
  });
});

describe('the gatehouse.yaml the chart renders', () => {
  /**
   * The `gatehouse.config` helper, step by step: values.config plus the chart-owned keys. The
   * test checks the helper text holds each step, so the two cannot drift silently.
   */
  function render(v: Obj): { yaml: string; keys: string[] } {
    const dir = /define "gatehouse.secretDir" -\}\}(\S+)\{\{/.exec(helpers)![1]!;
    const secrets = v.secrets as Obj;
    const store = v.store as Obj;
    const cfg = clone(v.config) as Obj;
    const keys: string[] = [];
    const ref = (key: string) => {
      keys.push(key);
      return `\${file:${dir}/${key}}`;
    };
    cfg.server = { ...(cfg.server as Obj), listen: '0.0.0.0:8080' };
    cfg.admin = { listen: '0.0.0.0:9090' };
    if (cfg.oidc && secrets.clientSecret) (cfg.oidc as Obj).client_secret = ref('client-secret');
    const cookies = (secrets.cookieSecrets as string[]).length;
    if (cookies > 0) {
      cfg.session = {
        ...(cfg.session as Obj),
        secrets: [...Array(cookies).keys()].map((i) => ref(`cookie-secret-${i}`)),
      };
    }
    if (secrets.assertionKey) {
      const identity = (cfg.identity ?? {}) as Obj;
      cfg.identity = {
        ...identity,
        assertion: { ...(identity.assertion as Obj), key: ref('assertion-key') },
      };
    }
    cfg.store = store.type === 'redis' ? ref('store-url') : 'memory';
    return { yaml: JSON.stringify(cfg), keys };
  }

  const secretValues: Record<string, string> = {
    'client-secret': 'client-secret-value',
    'cookie-secret-0': 'k'.repeat(44),
    'assertion-key': JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }),
    'store-url': 'redis://redis.default.svc:6379/0',
  };

  test('the helper sets the keys this test models', () => {
    for (const s of [
      `"client_secret" (printf "\${file:%s/client-secret}" $dir)`,
      `(printf "\${file:%s/cookie-secret-%d}" $dir $i)`,
      `"key" (printf "\${file:%s/assertion-key}" $dir)`,
      `"store" (printf "\${file:%s/store-url}" $dir)`,
      '"admin" (dict "listen" "0.0.0.0:9090")',
      '"listen" "0.0.0.0:8080"',
    ]) {
      assert.ok(helpers.includes(s), `_helpers.tpl contains ${s}`);
    }
    const secret = templateText('secret.yaml');
    for (const key of ['client-secret:', 'cookie-secret-{{ $i }}:', 'assertion-key:', 'store-url:']) {
      assert.ok(secret.includes(key), `secret.yaml emits ${key}`);
    }
  });

  for (const [what, patch] of [
    ['default values with secrets set', {}],
    ['with store.type redis', { store: { type: 'redis', redisUrl: 'redis://r:6379' } }],
  ] as [string, Obj][]) {
    test(`${what} loads through gatehouse's config loader`, () => {
      const v: Obj = {
        ...clone(values),
        secrets: {
          ...(values.secrets as Obj),
          clientSecret: 's',
          cookieSecrets: ['k'.repeat(44)],
          assertionKey: '{}',
        },
        ...patch,
      };
      assert.ok(validate(v), ajv.errorsText(validate.errors));
      const { yaml, keys } = render(v);
      const read: string[] = [];
      const loaded = parseConfig(yaml, '/etc/gatehouse/gatehouse.yaml', {
        env: {},
        readFile: (path) => {
          const key = path.slice(path.lastIndexOf('/') + 1);
          assert.ok(path.startsWith('/etc/gatehouse/secrets/') && key in secretValues, path);
          read.push(key);
          return `${secretValues[key]}\n`;
        },
      });
      assert.deepEqual(read.sort(), keys.sort());
      assert.equal(loaded.config.server.listen, '0.0.0.0:8080');
      assert.equal(loaded.config.admin.listen, '0.0.0.0:9090');
      assert.equal(loaded.config.session?.secrets[0], secretValues['cookie-secret-0']);
      assert.equal(
        loaded.config.store,
        (v.store as Obj).type === 'redis' ? secretValues['store-url'] : 'memory',
      );
    });
  }
});
