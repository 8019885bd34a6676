import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load.ts';
import { ConfigError, type ConfigProblem } from '../../../src/errors.ts';
import { MAX_CUSTOM_CSS_BYTES } from '../../../src/pages/ui-assets.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-ui-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ROUTES = 'routes:\n  - name: app\n    upstream: http://127.0.0.1:9000\n    policy: public\n';
const parse = (ui: string) =>
  parseConfig(`ui:\n${ui}${ROUTES}`, join(dir, 'gh.yaml'), {
    env: {},
    readFile: () => {
      throw new Error('no references here');
    },
  });
function problems(ui: string): string[] {
  try {
    parse(ui);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map((p: ConfigProblem) => `${p.path}: ${p.message}`);
  }
  assert.fail('accepted');
}

describe('ui config', () => {
  it('accepts https and same-site URLs, refuses the rest', () => {
    const ok = parse('  logo_url: https://cdn.example.com/l.svg\n  support_url: /help\n  app_name: Acme\n');
    assert.equal(ok.config.ui.app_name, 'Acme');
    assert.deepEqual(ok.ui, {
      appName: 'Acme',
      logoUrl: 'https://cdn.example.com/l.svg',
      supportUrl: '/help',
    });
    for (const bad of [
      'http://x.example/l.png',
      '//evil.example/x',
      'javascript:alert(1)',
      '/\\evil',
      'https://u:p@x.example/',
    ]) {
      assert.deepEqual(
        problems(`  logo_url: "${bad}"\n`),
        ['ui.logo_url: must be an https:// URL or a path starting with /'],
        bad,
      );
    }
    assert.match(problems('  colour: red\n')[0]!, /^ui: unknown key "colour"|colour/);
  });

  it('reads custom_css relative to the config file, capped in size', () => {
    writeFileSync(join(dir, 'ok.css'), 'h1{color:red}');
    assert.equal(parse('  custom_css: ok.css\n').ui?.customCss, 'h1{color:red}');
    writeFileSync(join(dir, 'big.css'), 'a'.repeat(MAX_CUSTOM_CSS_BYTES + 1));
    assert.match(
      problems('  custom_css: big.css\n')[0]!,
      /^ui\.custom_css: ".*big\.css" is larger than 65536 bytes$/,
    );
    assert.match(
      problems('  custom_css: missing.css\n')[0]!,
      /^ui\.custom_css: cannot read ".*missing\.css" \(ENOENT\)$/,
    );
    writeFileSync(join(dir, 'end.css'), 'a{}</style><script>');
    assert.deepEqual(problems('  custom_css: end.css\n'), ['ui.custom_css: must not contain "</style"']);
  });

  it('a bad layout is a config problem at templates_dir', () => {
    mkdirSync(join(dir, 'bad'));
    writeFileSync(join(dir, 'bad', 'layout.html'), '<p>{{title}}</p>{{> actions}}');
    assert.deepEqual(problems('  templates_dir: bad\n'), [
      'ui.templates_dir: layout.html: {{> details}} is missing',
    ]);
    mkdirSync(join(dir, 'good'));
    writeFileSync(join(dir, 'good', 'layout.html'), '<h1>{{title}}</h1>{{> details}}{{> actions}}');
    assert.equal(parse('  templates_dir: good\n').ui?.layout?.segments.length, 5);
  });
});
