// The table of sub-commands, in the order `metatpt --help` lists them. Each command lives in its own
// module under ./commands/ and is declared with defineCommand (./command.ts).
import type { CliCommand } from './command.js';
import { classifyCommand } from './commands/classify.js';
import { evaluateCommand } from './commands/evaluate.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { indexCommand } from './commands/index.js';
import { learnCommand } from './commands/learn.js';
import { statusCommand } from './commands/status.js';
import { runCommand } from './commands/run.js';
import { predictionsCommand } from './commands/predictions.js';
import { serveCommand } from './commands/serve.js';
import { workerCommand } from './commands/worker.js';
export const commands: CliCommand[] = [
  classifyCommand,
  evaluateCommand,
  exportCommand,
  importCommand,
  indexCommand,
  learnCommand,
  statusCommand,
  runCommand,
  predictionsCommand,
  serveCommand,
  workerCommand,
];
