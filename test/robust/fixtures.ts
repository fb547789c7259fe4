// Paths of the inputs rebuilt from public bug reports (test/fixtures/cases, copied from the shared
// cases folder) and of the models the robustness tests run.
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands.js';
import { captureIo } from '../cli/fixtures.js';

export const CASES = fileURLToPath(new URL('../fixtures/cases', import.meta.url));
export const EMBEDDED_MODEL = fileURLToPath(
  new URL('../../resources/models/shapes-clip-v1', import.meta.url),
);
export const DEMO_CLASSES = fileURLToPath(new URL('../../resources/demo/classes.txt', import.meta.url));
export const DEMO_IMAGES = fileURLToPath(new URL('../../resources/demo/images', import.meta.url));

/** Runs `metatpt ARGS` in-process; returns the exit code and what it wrote. */
export async function metatpt(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await runCli(commands, args, io);
  return { code, out: io.out.join(''), err: io.err.join('') };
}
