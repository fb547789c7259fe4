// Where this checkout keeps what ships with the app: resources/models (the embedded model) and
// resources/demo (the demo collection).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './command.js';

export const fromRoot = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** The app's resources folder (resources/models, resources/demo). */
export const RESOURCES_DIR = fromRoot('resources');

/**
 * The embedded model's folder: the model under resources/models (a folder with a config.json); where
 * there are several, the last by name (shapes-clip-v2 after shapes-clip-v1). Throws a UsageError
 * naming the folder when there is none, so that the command asks for --model instead.
 */
export function embeddedModelDir(resourcesDir = RESOURCES_DIR): string {
  const root = join(resourcesDir, 'models');
  const names = existsSync(root)
    ? readdirSync(root, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, 'config.json')))
        .map((entry) => entry.name)
        .sort()
    : [];
  const last = names.at(-1);
  if (last === undefined) throw new UsageError(`no embedded model in ${root}: name one with --model DIR`);
  return join(root, last);
}
