// The table of sub-commands. Each command lives in its own module under ./commands/.
import { classifyCommand } from './commands/classify.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { indexCommand } from './commands/index.js';
import { statusCommand } from './commands/status.js';
import { runCommand } from './commands/run.js';
import { predictionsCommand } from './commands/predictions.js';
import { serveCommand } from './commands/serve.js';
export interface Command {
  name: string;
  summary: string;
  /** Runs with the arguments after the command name; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

export const commands: Command[] = [
  classifyCommand,
  exportCommand,
  importCommand,
  indexCommand,
  statusCommand,
  runCommand,
  predictionsCommand,
  serveCommand,
];
