#!/usr/bin/env node
// The `metatpt` command: one entry point, one module per sub-command.
import { commands } from './commands.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = commands.find((c) => c.name === name);
  if (!command || name === 'help' || name === '--help') {
    const list = commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n');
    process.stderr.write(`usage: metatpt <command> [options]\n\ncommands:\n${list}\n`);
    return name && name !== 'help' && name !== '--help' ? 2 : 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`metatpt: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
