#!/usr/bin/env node
// The `metatpt` command: one entry point, one module per sub-command (./commands.ts lists them).
import { runCli } from './command.js';
import { commands } from './commands.js';
import { withProcessIo } from './format.js';

withProcessIo((io) => runCli(commands, process.argv.slice(2), io)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`metatpt: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
