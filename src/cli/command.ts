// The `metatpt` command line on commander: each sub-command declares its arguments and options
// once (commander generates `--help` and rejects unknown options from them) and gets a body that
// resolves to the exit code. Exit codes: 0 done (and --help), 1 failed, 2 a mistake in the command
// line (printed with the command's usage), 130 stopped by the user.
import { Command, CommanderError } from 'commander';
import type { CommandIo } from './format.js';

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/** One sub-command: `define` declares its arguments and options, `run` does the work. */
export interface CliCommand<Options = Record<string, unknown>> {
  name: string;
  /** One line, shown in `metatpt --help`. */
  summary: string;
  /** Declares the usage line, description, arguments and options on the command. */
  define(command: Command): void;
  /**
   * Runs with the parsed options (named as commander names them: `--classes-file` is `classesFile`)
   * and the positional arguments; resolves to the exit code. Throws UsageError for a command-line
   * mistake commander cannot see (a bad number, a missing option that depends on another).
   */
  run(options: Options, args: string[], io: CommandIo): Promise<number>;
}

/** A sub-command whose options are typed by the command itself. */
export function defineCommand<Options>(command: CliCommand<Options>): CliCommand {
  return { ...command, run: (options, args, io) => command.run(options as Options, args, io) };
}

/** Commander's parse error, with the command whose usage explains it. */
class ParseError extends Error {
  constructor(
    readonly parsed: CommanderError,
    readonly command: Command,
  ) {
    super(parsed.message.replace(/^error: /, ''));
  }
}

/** The program: every sub-command, writing to `io`, throwing instead of exiting. */
function program(commands: readonly CliCommand[], io: CommandIo, ran: { code: number }): Command {
  const root = new Command('metatpt')
    .description('Classify local image collections with CLIP, adapt hard cases with TPT / MetaTPT.')
    .usage('<command> [options]')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
    .helpCommand('help [command]', 'show the help of a command')
    .showSuggestionAfterError();
  root.exitOverride((error) => {
    throw new ParseError(error, root);
  });
  for (const spec of commands) {
    const command = root.command(spec.name).summary(spec.summary).description(spec.summary);
    command.exitOverride((error) => {
      throw new ParseError(error, command);
    });
    spec.define(command);
    command.action(async () => {
      ran.code = await spec.run(command.opts(), command.args, io);
    });
  }
  return root;
}

/**
 * Runs the command line `argv` (without the node and script paths); resolves to the exit code. A
 * command-line mistake prints the message and the command's usage (exit code 2), any other error
 * its message (exit code 1); the messages name the file or option and the problem.
 */
export async function runCli(
  commands: readonly CliCommand[],
  argv: string[],
  io: CommandIo,
): Promise<number> {
  const ran = { code: 0 };
  let root: Command | undefined;
  let active: Command | undefined;
  try {
    root = program(commands, io, ran);
    root.hook('preAction', (_, command) => {
      active = command;
    });
    if (argv.length === 0) {
      io.stderr(root.helpInformation());
      return 0;
    }
    await root.parseAsync(argv, { from: 'user' });
    return ran.code;
  } catch (error) {
    if (error instanceof ParseError) {
      const { code, exitCode } = error.parsed;
      if (code === 'commander.helpDisplayed' || code === 'commander.version') return 0;
      if (code === 'commander.help') return exitCode;
      io.stderr(`metatpt: ${error.message}\n${error.command.helpInformation()}`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    const usage = error instanceof UsageError ? (active ?? root)?.helpInformation() : undefined;
    io.stderr(`metatpt: ${message}\n${usage ?? ''}`);
    return usage === undefined ? 1 : 2;
  }
}
