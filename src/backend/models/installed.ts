// Installed models: one folder per model under a models root, each a Hugging Face CLIP layout plus a
// small manifest saying where it came from.
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClipConfig } from '../../engine/clip/config.js';
import { ModelFileError } from '../../engine/clip/errors.js';
import { checkClipModelDir } from '../../engine/clip/model-files.js';
import { ModelManagerError } from './errors.js';

export const MANIFEST_FILE = 'metatpt-model.json';

export type ModelSource =
  | { type: 'import'; path: string }
  | { type: 'download'; repoId: string; revision: string; baseUrl: string; sha256: Record<string, string> };

export interface ModelManifest {
  name: string;
  source: ModelSource;
  installedAt: string;
}

export interface ModelSummary {
  /** e.g. "ViT-B/16"; "ViT-64x2/8" for sizes without a common name. */
  architecture: string;
  imageSize: number;
  patchSize: number;
  projectionDim: number;
  textHidden: number;
  textLayers: number;
  visionHidden: number;
  visionLayers: number;
  weightsBytes: number;
}

export interface InstalledModel {
  id: string;
  name: string;
  dir: string;
  summary: ModelSummary;
  source?: ModelSource;
}

export interface BrokenModel {
  id: string;
  dir: string;
  error: string;
}

/** Vision tower (width, depth) → the ViT size letter used in model names. */
const VIT_SIZES: Record<string, string> = {
  '768x12': 'B',
  '1024x24': 'L',
  '1280x32': 'H',
  '1664x48': 'bigG',
};

export function summarizeModel(config: ClipConfig, weightsBytes: number): ModelSummary {
  const { text, vision } = config;
  const size =
    VIT_SIZES[`${vision.hiddenSize}x${vision.numLayers}`] ?? `${vision.hiddenSize}x${vision.numLayers}`;
  return {
    architecture: `ViT-${size}/${vision.patchSize}`,
    imageSize: vision.imageSize,
    patchSize: vision.patchSize,
    projectionDim: config.projectionDim,
    textHidden: text.hiddenSize,
    textLayers: text.numLayers,
    visionHidden: vision.hiddenSize,
    visionLayers: vision.numLayers,
    weightsBytes,
  };
}

/** A folder-safe id for a model name: "openai/clip-vit-base-patch16" → "openai--clip-vit-base-patch16". */
export function modelIdFor(name: string): string {
  const id = name
    .trim()
    .replace(/\s*\/\s*/g, '--')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '');
  if (!id) throw new ModelManagerError('invalid-model', `"${name}" cannot be used as a model name`);
  return id;
}

export function assertNotInstalled(modelsRoot: string, id: string): void {
  if (existsSync(join(modelsRoot, id))) {
    throw new ModelManagerError('exists', `a model "${id}" is already installed in ${modelsRoot}`);
  }
}

function checkModel(dir: string) {
  try {
    return checkClipModelDir(dir);
  } catch (err) {
    if (err instanceof ModelFileError)
      throw new ModelManagerError('invalid-model', err.message, { cause: err });
    throw err;
  }
}

/**
 * Validates a fully staged model folder, writes its manifest and renames it to `modelsRoot/id` in one
 * step, so a models root never holds a half-installed model. The staging folder must be in modelsRoot.
 */
export async function installStagedModel(
  stagingDir: string,
  modelsRoot: string,
  id: string,
  manifest: ModelManifest,
): Promise<InstalledModel> {
  const check = checkModel(stagingDir);
  await writeFile(join(stagingDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  assertNotInstalled(modelsRoot, id);
  const dir = join(modelsRoot, id);
  await rename(stagingDir, dir);
  return {
    id,
    name: manifest.name,
    dir,
    summary: summarizeModel(check.config, check.weightsBytes),
    source: manifest.source,
  };
}

async function readManifest(dir: string): Promise<ModelManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as ModelManifest;
  } catch {
    return undefined; // a model folder placed by hand has no manifest
  }
}

/**
 * The model folders in `modelsRoot` (sorted by id). Folders that fail validation are listed as broken
 * with the reason; staging folders (".name") are skipped.
 */
export async function listModels(
  modelsRoot: string,
): Promise<{ models: InstalledModel[]; broken: BrokenModel[] }> {
  const models: InstalledModel[] = [];
  const broken: BrokenModel[] = [];
  if (!existsSync(modelsRoot)) return { models, broken };
  const entries = (await readdir(modelsRoot, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const dir = join(modelsRoot, entry.name);
    try {
      const check = checkClipModelDir(dir);
      const manifest = await readManifest(dir);
      models.push({
        id: entry.name,
        name: manifest?.name ?? entry.name,
        dir,
        summary: summarizeModel(check.config, check.weightsBytes),
        source: manifest?.source,
      });
    } catch (err) {
      broken.push({ id: entry.name, dir, error: (err as Error).message });
    }
  }
  return { models, broken };
}

/** Removes a staging folder, ignoring one that is already gone. */
export async function discardStaging(stagingDir: string): Promise<void> {
  await rm(stagingDir, { recursive: true, force: true });
}
