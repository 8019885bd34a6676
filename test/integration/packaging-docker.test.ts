/**
 * The container image, without a container engine: the Dockerfile's invariants, the build
 * context `.dockerignore` leaves, and a real run of the runtime stage's file tree — exactly what
 * the final stage COPYs, with only the production dependency tree — from a temp directory.
 * That run catches a devDependency imported at run time and a file the image forgets.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configSchema } from '../../src/config/schema.ts';
import {
  type Dockerfile,
  envOf,
  freePort,
  type IgnoreRule,
  instructionsOf,
  isIgnored,
  parseDockerfile,
  parseDockerignore,
  REPO,
  type Stage,
  waitFor200,
  workdirOf,
} from '../helpers/packaging.ts';

const dockerfile: Dockerfile = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const ignore: IgnoreRule[] = parseDockerignore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));
const runtime: Stage = dockerfile.stages.at(-1)!;
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  link?: boolean;
  hasInstallScript?: boolean;
}
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockEntry>;
};
/** What `npm ci --omit=dev` installs: lockfile entries that are not dev-only. */
const prodEntries = Object.entries(lock.packages).filter(
  ([path, e]) => path.startsWith('node_modules/') && !e.dev && !e.devOptional && !e.link,
);

function stageByName(name: string): Stage {
  const s = dockerfile.stages.find((st) => st.name === name.toLowerCase() || String(st.index) === name);
  assert.ok(s, `COPY --from=${name} names no stage`);
  return s;
}

/** Node 24 images: node:24…, node:24-bookworm-slim, gcr.io/distroless/nodejs24-debian12… */
function nodeMajorOf(image: string): number | undefined {
  const m = /(?:^|\/)node:(\d+)(?:[.-]|$)/.exec(image) ?? /(?:^|\/)nodejs(\d+)-/.exec(image);
  return m ? Number(m[1]) : undefined;
}

const defaults = configSchema.parse({
  routes: [{ name: 'a', upstream: 'http://127.0.0.1:1', policy: 'public' }],
});
const portOf = (listen: string) => Number(listen.slice(listen.lastIndexOf(':') + 1));

describe('Dockerfile', () => {
  test('is multi-stage and every stage is based on Node 24', () => {
    assert.ok(dockerfile.stages.length >= 2, 'a deps stage and a runtime stage');
    for (const s of dockerfile.stages) {
      assert.equal(nodeMajorOf(s.base), 24, `stage ${s.name ?? s.index} base ${s.base} is not Node 24`);
    }
  });

  test('production dependencies only: npm ci --omit=dev from the lockfile', () => {
    const installs = dockerfile.stages.flatMap((s) =>
      instructionsOf(s, 'RUN').filter((i) => /\bnpm\s+(ci|install|i)\b/.test(i.raw)),
    );
    assert.ok(installs.length > 0, 'some stage installs dependencies');
    for (const i of installs) {
      assert.match(i.raw, /\bnpm ci\b/, `line ${i.line}: npm ci (lockfile), not npm install`);
      assert.match(i.raw, /--omit=dev\b/, `line ${i.line}: --omit=dev`);
      if (/--ignore-scripts\b/.test(i.raw)) {
        // protobufjs's postinstall only warns about an old version of itself: skipping it is safe.
        const harmless = new Set(['node_modules/protobufjs']);
        const withScripts = prodEntries
          .filter(([p, e]) => e.hasInstallScript && !harmless.has(p))
          .map(([p]) => p);
        assert.deepEqual(withScripts, [], 'a production dependency needs its install script');
      }
    }
    assert.equal(instructionsOf(runtime, 'RUN').length, 0, 'the runtime stage runs nothing (no shell)');
  });

  test('runtime stage: numeric non-root USER, no writable code, Node 24 entrypoint', () => {
    const users = instructionsOf(runtime, 'USER');
    assert.ok(users.length > 0, 'USER is set in the final stage');
    const [uid, gid] = (users.at(-1)!.args[0] ?? '').split(':');
    assert.match(uid ?? '', /^\d+$/, 'USER is numeric, so runAsNonRoot can verify it');
    assert.notEqual(Number(uid), 0, 'USER is not root');
    if (gid !== undefined) assert.notEqual(Number(gid), 0, 'group is not root');
    for (const c of instructionsOf(runtime, 'COPY')) {
      assert.equal(c.flags.chown, undefined, `line ${c.line}: code stays root-owned, read-only to the app`);
    }
    assert.equal(workdirOf(runtime), '/app');

    const [entry] = instructionsOf(runtime, 'ENTRYPOINT');
    assert.ok(entry?.json, 'ENTRYPOINT in exec form (signals reach node as PID 1)');
    assert.match(entry.args[0]!, /(^|\/)node$/);
    assert.equal(entry.args[1], 'cmd/gatehouse.ts');
    const [cmd] = instructionsOf(runtime, 'CMD');
    assert.deepEqual(cmd?.args, ['serve']);

    const env = envOf(runtime);
    assert.equal(env.NODE_ENV, 'production');
    assert.equal(env.GATEHOUSE_CONFIG, '/etc/gatehouse/gatehouse.yaml');
    const labels = instructionsOf(runtime, 'LABEL')
      .map((l) => l.raw)
      .join(' ');
    for (const key of ['title', 'version', 'revision', 'licenses', 'description']) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`), `OCI label ${key}`);
    }
  });

  test('signals, ports and health check match the program', () => {
    assert.deepEqual(instructionsOf(runtime, 'STOPSIGNAL').at(-1)?.args, ['SIGTERM']);
    const exposed = instructionsOf(runtime, 'EXPOSE').flatMap((e) =>
      e.args.map((p) => Number(p.split('/')[0])),
    );
    // The ports of the config's own defaults: server.listen and admin.listen.
    assert.ok(exposed.includes(portOf(defaults.server.listen)), `EXPOSE ${portOf(defaults.server.listen)}`);
    assert.ok(exposed.includes(portOf(defaults.admin.listen)), `EXPOSE ${portOf(defaults.admin.listen)}`);

    const [hc] = instructionsOf(runtime, 'HEALTHCHECK');
    assert.ok(hc, 'HEALTHCHECK in the final stage');
    assert.equal(hc.args[0], 'CMD');
    assert.ok(hc.json, 'exec form: the runtime image has no /bin/sh');
    const [entry] = instructionsOf(runtime, 'ENTRYPOINT');
    assert.equal(hc.args[1], entry?.args[0], 'the health check runs the same node as the entrypoint');
    assert.ok(!/\b(curl|wget)\b/.test(hc.raw), 'no curl/wget in the image');
    assert.match(hc.raw, new RegExp(`127\\.0\\.0\\.1:${portOf(defaults.admin.listen)}/healthz`));
  });

  test('no stage copies tests, benchmarks, docs or the whole context', () => {
    for (const s of dockerfile.stages) {
      for (const c of instructionsOf(s, 'COPY').concat(instructionsOf(s, 'ADD'))) {
        if (c.flags.from) continue;
        for (const src of c.args.slice(0, -1)) {
          assert.ok(
            !/^(\.\/)?(test|bench|docs|\.git|node_modules)(\/|$)/.test(src),
            `line ${c.line}: ${src}`,
          );
          assert.ok(!/^\.\/?$/.test(src), `line ${c.line}: COPY . copies the whole context`);
        }
      }
    }
  });
});

describe('.dockerignore', () => {
  test('leaves only the runtime inputs in the build context', () => {
    for (const p of [
      'test/unit/x.test.ts',
      'bench/micro/a.ts',
      'node_modules/jose/package.json',
      '.git/HEAD',
    ]) {
      assert.ok(isIgnored(ignore, p), `${p} is excluded`);
    }
    for (const p of [
      'docs/deploy.md',
      'config/helm/gatehouse/values.yaml',
      '.env',
      'src/x/node_modules/a.js',
    ]) {
      assert.ok(isIgnored(ignore, p), `${p} is excluded`);
    }
    // Walk the real tree: what is left is exactly cmd/, src/ and the two manifests.
    const left: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(join(REPO, dir), { withFileTypes: true })) {
        const rel = dir ? `${dir}/${e.name}` : e.name;
        if (isIgnored(ignore, rel) && e.isDirectory() && !['cmd', 'src'].includes(rel)) {
          // Docker still descends for negated patterns; none re-includes below an ignored dir here.
          continue;
        }
        if (e.isDirectory()) walk(rel);
        else if (!isIgnored(ignore, rel)) left.push(rel);
      }
    };
    walk('');
    assert.ok(left.includes('package.json') && left.includes('package-lock.json'));
    assert.ok(
      left.some((p) => p.startsWith('src/')),
      'src/ is in the context',
    );
    for (const p of left) assert.match(p, /^(cmd\/|src\/|package\.json$|package-lock\.json$)/, p);
  });

  test('every file the Dockerfile copies from the context survives it', () => {
    for (const s of dockerfile.stages) {
      for (const c of instructionsOf(s, 'COPY')) {
        if (c.flags.from) continue;
        for (const src of c.args.slice(0, -1)) {
          const rel = posix.normalize(src).replace(/\/$/, '');
          assert.ok(existsSync(join(REPO, rel)), `${src} exists`);
          assert.ok(!isIgnored(ignore, rel), `${src} is not excluded by .dockerignore`);
        }
      }
    }
  });
});

describe('runtime stage, run for real from its own file tree', () => {
  let dir = '';
  let upstream: Server;
  let upstreamPort = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-image-'));
    buildRuntimeTree(join(dir, 'app'));
    upstream = createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`upstream saw ${req.method} ${req.url}`);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const addr = upstream.address();
    upstreamPort = typeof addr === 'object' && addr ? addr.port : 0;
  });
  after(async () => {
    await new Promise((r) => upstream?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('holds exactly the production dependency tree', () => {
    const app = join(dir, 'app');
    for (const [path, entry] of prodEntries) {
      const manifest = join(app, path, 'package.json');
      assert.ok(existsSync(manifest), `${path} is installed`);
      const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
      assert.equal(version, entry.version, `${path} matches the lockfile`);
    }
    for (const dev of ['typescript', '@biomejs/biome', 'oidc-provider', 'ajv', 'node']) {
      assert.ok(!existsSync(join(app, 'node_modules', dev)), `devDependency ${dev} is absent`);
    }
  });

  test('--version, serve, /healthz, proxying, HEALTHCHECK command and SIGTERM → exit 0', async (t) => {
    const app = join(dir, 'app');
    if (!existsSync(join(app, 'cmd', 'gatehouse.ts'))) {
      const msg = 'cmd/gatehouse.ts does not exist yet (the CLI is written in another change)';
      if (process.env.CI === 'true') assert.fail(msg);
      t.skip(msg);
      return;
    }
    // A clean, HOME-less environment like the image's: no developer settings leak in.
    const env: NodeJS.ProcessEnv = {
      PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
      NODE_ENV: 'production',
    };
    const version = spawnSync(process.execPath, ['cmd/gatehouse.ts', '--version'], {
      cwd: app,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, new RegExp(pkg.version.replaceAll('.', '\\.')));

    const proxyPort = await freePort();
    const adminPort = await freePort();
    const configFile = join(dir, 'gatehouse.yaml');
    writeFileSync(
      configFile,
      [
        'server:',
        `  listen: 127.0.0.1:${proxyPort}`,
        'admin:',
        `  listen: 127.0.0.1:${adminPort}`,
        'routes:',
        `  - { name: app, upstream: "http://127.0.0.1:${upstreamPort}", policy: public }`,
        '',
      ].join('\n'),
    );
    const before = snapshot(app);
    const child: ChildProcess = spawn(process.execPath, ['cmd/gatehouse.ts', 'serve'], {
      cwd: app,
      env: { ...env, GATEHOUSE_CONFIG: configFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let alive = true;
    child.once('exit', () => {
      alive = false;
    });
    try {
      const body = await waitFor200(`http://127.0.0.1:${adminPort}/healthz`, 20_000, () => alive).catch(
        (err) => {
          throw new Error(`${(err as Error).message}\n--- gatehouse output ---\n${output}`);
        },
      );
      assert.equal(body.trim(), 'ok');

      const proxied = await fetch(`http://127.0.0.1:${proxyPort}/hello`, {
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(proxied.status, 200);
      assert.equal(await proxied.text(), 'upstream saw GET /hello');

      // The image's HEALTHCHECK command, run with this node against this admin listener.
      const hc = healthcheckScript();
      const healthy = spawnSync(process.execPath, ['-e', hc], {
        env: { ...env, GATEHOUSE_HEALTHCHECK_URL: `http://127.0.0.1:${adminPort}/healthz` },
        timeout: 10_000,
      });
      assert.equal(healthy.status, 0, 'HEALTHCHECK passes against a healthy gatehouse');

      child.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref()),
      ]);
      assert.equal(code, 0, `SIGTERM → exit 0\n--- gatehouse output ---\n${output}`);

      const unhealthy = spawnSync(process.execPath, ['-e', hc], {
        env: { ...env, GATEHOUSE_HEALTHCHECK_URL: `http://127.0.0.1:${adminPort}/healthz` },
        timeout: 10_000,
      });
      assert.equal(unhealthy.status, 1, 'HEALTHCHECK fails once gatehouse is gone');
      assert.deepEqual(snapshot(app), before, 'nothing was written inside /app (read-only root works)');
    } finally {
      if (alive) child.kill('SIGKILL');
    }
  });
});

/** The `node -e` script of the runtime stage's HEALTHCHECK. */
function healthcheckScript(): string {
  const [hc] = instructionsOf(runtime, 'HEALTHCHECK');
  const i = hc!.args.indexOf('-e');
  assert.ok(i > 0, 'HEALTHCHECK runs node -e SCRIPT');
  return hc!.args[i + 1]!;
}

/**
 * Lay out what the final stage COPYs into `app` (its WORKDIR), following the parsed Dockerfile:
 * context sources through `.dockerignore`, and `--from=<stage>` node_modules as the lockfile's
 * production tree, which is what that stage's `npm ci --omit=dev` produces.
 */
function buildRuntimeTree(app: string): void {
  const workdir = workdirOf(runtime);
  mkdirSync(app, { recursive: true });
  const target = (dest: string) => {
    const abs = dest.startsWith('/') ? dest : posix.join(workdir, dest);
    const rel = posix.relative(workdir, abs);
    assert.ok(!rel.startsWith('..'), `COPY destination ${dest} is inside WORKDIR ${workdir}`);
    return join(app, rel);
  };
  for (const c of instructionsOf(runtime, 'COPY')) {
    const srcs = c.args.slice(0, -1);
    const dest = c.args.at(-1)!;
    const toDir = dest.endsWith('/') || srcs.length > 1;
    for (const src of srcs) {
      if (c.flags.from) {
        const from = stageByName(c.flags.from);
        const producedBy = instructionsOf(from, 'RUN').some((r) => /\bnpm ci\b/.test(r.raw));
        const expected = posix.join(workdirOf(from), 'node_modules');
        assert.ok(
          producedBy && posix.normalize(src) === expected,
          `unknown artifact ${src} from ${c.flags.from}`,
        );
        copyProductionTree(target(dest));
        continue;
      }
      const rel = posix.normalize(src).replace(/\/$/, '');
      const from = join(REPO, rel);
      // A missing source fails the "survives .dockerignore" test; the run test reports it too.
      if (!existsSync(from)) continue;
      const isDir = statSync(from).isDirectory();
      const to = isDir || !toDir ? target(dest) : join(target(dest), posix.basename(rel));
      cpSync(from, to, {
        recursive: true,
        filter: (f) => {
          const r = relative(REPO, f).split('\\').join('/');
          return r === '' || !isIgnored(ignore, r);
        },
      });
    }
  }
}

function copyProductionTree(dest: string): void {
  for (const [path] of prodEntries) {
    const src = join(REPO, path);
    assert.ok(existsSync(src), `${path} is installed here (run npm ci)`);
    cpSync(src, join(dest, path.slice('node_modules/'.length)), {
      recursive: true,
      // nested node_modules are lockfile entries of their own, copied separately
      filter: (f) => relative(src, f).split('/')[0] !== 'node_modules',
    });
  }
}

/** Every path under `dir` with its size and mtime. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    const s = statSync(p);
    out.push(`${relative(dir, p)} ${s.size} ${s.mtimeMs}`);
  }
  return out.sort();
}
