#!/usr/bin/env node
// The `metatpt` command: one entry point, one module per sub-command (./commands.ts lists them).
import { runCli } from './command.js';
import { commands } from './commands.js';
import { withProcessIo } from './format.js';

// A reader that closes the pipe early (`metatpt predictions --json | head -1`) has what it wanted:
// end quietly, as `cat` does, instead of an EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
}

withProcessIo((io) => runCli(commands, process.argv.slice(2), io)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`metatpt: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
