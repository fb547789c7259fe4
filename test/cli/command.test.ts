// The command line's frame: generated help for every sub-command, unknown options and commands
// named in the error, and the exit codes (0 help, 2 a command-line mistake).
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands.js';
import type { CommandIo } from '../../src/cli/format.js';

async function metatpt(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    stderrIsTTY: false,
  };
  const code = await runCli(commands, args, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('metatpt', () => {
  it('lists every command in --help, on stdout, exit 0', async () => {
    const { code, stdout, stderr } = await metatpt(['--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    for (const command of commands) expect(stdout).toContain(`${command.name} `);
  });

  it.each(commands.map((c) => c.name))('%s --help shows its options on stdout, exit 0', async (name) => {
    for (const args of [
      [name, '--help'],
      ['help', name],
    ]) {
      const { code, stdout, stderr } = await metatpt(args);
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toMatch(new RegExp(`^Usage: metatpt ${name} `));
      expect(stdout).toContain('--help');
    }
  });

  it.each(commands.map((c) => c.name))('%s names an unknown option, with its usage, exit 2', async (name) => {
    const { code, stdout, stderr } = await metatpt([name, '--no-such-option']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      new RegExp(`^metatpt: unknown option '--no-such-option'\\n(.|\\n)*Usage: metatpt ${name} `),
    );
  });

  it('names an unknown command and suggests a close one, exit 2', async () => {
    const { code, stderr } = await metatpt(['clasify']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^metatpt: unknown command 'clasify'\n\(Did you mean classify\?\)/);
  });

  it('prints the usage on stderr when no command is given', async () => {
    const { code, stdout, stderr } = await metatpt([]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^Usage: metatpt <command> \[options\]/);
  });
});
