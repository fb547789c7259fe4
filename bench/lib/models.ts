// Benchmark models are generated on first use into bench/models/ (git-ignored), never committed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeClipModel, type ClipPreset } from '../../tools/clip/make-model.js';
import { CLIP_MODEL_FILES } from '../../src/engine/clip/model-files.js';

export const BENCH_MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'models');

/** The folder of a random model with the preset's shapes, written there if it is not yet. */
export function ensureClipModel(preset: ClipPreset, log: (line: string) => void): string {
  const dir = join(BENCH_MODELS_DIR, preset);
  if (!existsSync(join(dir, CLIP_MODEL_FILES.weights))) {
    log(`generating a random ${preset} model in ${dir} ...`);
    makeClipModel(dir, { preset });
  }
  return dir;
}
