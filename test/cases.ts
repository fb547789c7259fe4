// Paths of the inputs rebuilt from public bug reports (test/fixtures/cases, copied from the shared
// cases folder) and of the models the robustness tests run.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli/command.js';
import { commands } from '../src/cli/commands.js';
import { DEMO_COLLECTION_DIR, EMBEDDED_MODEL_DIR } from '../tools/synthetic/embedded.js';
import { captureIo } from './cli/fixtures.js';

export const CASES = fileURLToPath(new URL('./fixtures/cases', import.meta.url));
export const EMBEDDED_MODEL = EMBEDDED_MODEL_DIR;
export const DEMO_CLASSES = join(DEMO_COLLECTION_DIR, 'classes.txt');
export const DEMO_IMAGES = join(DEMO_COLLECTION_DIR, 'images');

/** Runs `metatpt ARGS` in-process; returns the exit code and what it wrote. */
export async function metatpt(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await runCli(commands, args, io);
  return { code, out: io.out.join(''), err: io.err.join('') };
}
