/**
 * readCommandLine: argv against the command table – values, help, and usage errors in our words.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCommandLine } from '../../../src/cli/args.ts';

describe('readCommandLine', () => {
  it('reads a command and its options, before or after the command', () => {
    const r = readCommandLine(['-c', 'a.yaml', 'explain', '--url', '/x', '--json', '--exit-code']);
    assert.equal(r.kind, 'run');
    assert.ok(r.kind === 'run');
    assert.equal(r.command.name, 'explain');
    assert.deepEqual(r.values, { config: 'a.yaml', url: '/x', json: true, 'exit-code': true });
  });

  it('answers help and version', () => {
    assert.deepEqual(readCommandLine(['--help']), { kind: 'help' });
    assert.deepEqual(readCommandLine(['-v']), { kind: 'version' });
    const one = readCommandLine(['help', 'check']);
    assert.ok(one.kind === 'help' && one.command?.name === 'check');
    const flag = readCommandLine(['check', '-h']);
    assert.ok(flag.kind === 'help' && flag.command?.name === 'check');
  });

  it('refuses what the command does not take, naming the command', () => {
    const messages = [
      [['check', '--foo'], 'unknown option --foo for `gatehouse check`; see `gatehouse help check`'],
      [['check', '-x'], 'unknown option -x for `gatehouse check`; see `gatehouse help check`'],
      [
        ['keygen', '--config', 'a'],
        'unknown option --config for `gatehouse keygen`; see `gatehouse help keygen`',
      ],
      [
        ['explain', '--url'],
        'option --url needs a value (URL) for `gatehouse explain`; see `gatehouse help explain`',
      ],
      [
        ['explain', '--url', '--json'],
        'option --url needs a value (URL) for `gatehouse explain`; see `gatehouse help explain`',
      ],
      [
        ['check', '--skip-secrets=yes'],
        'option --skip-secrets takes no value for `gatehouse check`; see `gatehouse help check`',
      ],
      [['check', 'extra'], 'unexpected argument "extra" for `gatehouse check`; see `gatehouse help check`'],
      [[], 'a command is required'],
      [['--bogus'], 'unknown option --bogus; see `gatehouse help`'],
    ] as const;
    for (const [argv, message] of messages) {
      const r = readCommandLine(argv);
      assert.ok(r.kind === 'usage', argv.join(' '));
      assert.equal(r.message, message, argv.join(' '));
    }
    const unknown = readCommandLine(['frobnicate']);
    assert.ok(unknown.kind === 'usage' && unknown.message.startsWith('unknown command "frobnicate"'));
  });
});
