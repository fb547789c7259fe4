// Importing a CLIP model folder from disk into the models root.
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ModelFileError } from '../../engine/clip/errors.js';
import { checkClipModelDir, CLIP_MODEL_FILES } from '../../engine/clip/model-files.js';
import { ModelManagerError } from './errors.js';
import {
  assertNotInstalled,
  discardStaging,
  installStagedModel,
  modelIdFor,
  type InstalledModel,
} from './installed.js';

/**
 * Validates `srcDir` (config, preprocessor config, tokenizer, every weight's shape), copies the model
 * files into `modelsRoot/<id>` through a staging folder (so a failure leaves nothing behind) and never
 * overwrites an installed model. `name` defaults to the folder's name.
 */
export async function importModelFolder(
  srcDir: string,
  modelsRoot: string,
  options: { name?: string } = {},
): Promise<InstalledModel> {
  const source = resolve(srcDir);
  try {
    checkClipModelDir(source);
  } catch (err) {
    if (err instanceof ModelFileError)
      throw new ModelManagerError('invalid-model', err.message, { cause: err });
    throw err;
  }
  const name = options.name ?? basename(source);
  const id = modelIdFor(name);
  assertNotInstalled(modelsRoot, id);
  await mkdir(modelsRoot, { recursive: true });
  const staging = await mkdtemp(join(modelsRoot, `.import-${id}-`));
  try {
    for (const file of Object.values(CLIP_MODEL_FILES)) {
      await copyFile(join(source, file), join(staging, file));
    }
    return await installStagedModel(staging, modelsRoot, id, {
      name,
      source: { type: 'import', path: source },
      installedAt: new Date().toISOString(),
    });
  } catch (err) {
    await discardStaging(staging);
    throw err;
  }
}
