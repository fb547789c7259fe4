// Model records in the store for model folders on disk: the embedded model(s) shipped with the app,
// the models installed in the data folder, and any folder a headless run names.
import { basename, resolve } from 'node:path';
import { checkClipModelDir } from '../engine/clip/model-files.js';
import { listModels, summarizeModel, type InstalledModel } from './models/installed.js';
import type { ModelRecord, Store } from './store/index.js';

/** Where a registered model came from, kept in its record's config. */
export type ModelOrigin = 'embedded' | 'installed' | 'folder';

/** Records an installed (imported, downloaded or embedded) model, or refreshes its record. */
export function recordInstalledModel(store: Store, model: InstalledModel, origin: ModelOrigin): ModelRecord {
  return store.models.upsert({
    name: model.name,
    dir: model.dir,
    config: { ...model.summary, origin, ...(model.source && { source: model.source }) },
  });
}

/**
 * The record of the model in `dir`, registering the folder (validated: it must be a loadable CLIP
 * model) when the store does not know it yet.
 */
export function modelRecordForFolder(store: Store, dir: string): ModelRecord {
  const absolute = resolve(dir);
  const known = store.models.getByDir(absolute);
  if (known) return known;
  const check = checkClipModelDir(absolute);
  return store.models.upsert({
    name: basename(absolute),
    dir: absolute,
    config: { ...summarizeModel(check.config, check.weightsBytes), origin: 'folder' },
  });
}

/**
 * Registers the valid model folders under `modelsRoot` that the store does not know yet; returns
 * the problems with broken folders (one line each), which do not stop the others.
 */
export async function registerModelsIn(
  store: Store,
  modelsRoot: string,
  origin: ModelOrigin,
): Promise<string[]> {
  const { models, broken } = await listModels(modelsRoot);
  for (const model of models) {
    if (!store.models.getByDir(model.dir)) recordInstalledModel(store, model, origin);
  }
  return broken.map((b) => `model folder ${b.dir} is not usable: ${b.error}`);
}
