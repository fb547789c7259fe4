// The table of sub-commands. Each command lives in its own module under ./commands/.
export interface Command {
  name: string;
  summary: string;
  /** Runs with the arguments after the command name; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

export const commands: Command[] = [];
