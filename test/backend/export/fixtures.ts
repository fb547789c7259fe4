// Small real PNGs in a temp folder, standing in for a collection on disk, and a store seeded with a run.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ExportItem, LabelSource } from '../../../src/backend/export/index.js';
import type { ImageResult } from '../../../src/backend/store/index.js';
import { hashFile } from '../../../src/backend/library/inspect.js';
import { openStore, type Store } from '../../../src/backend/store/index.js';
import { createCollectionRun, SEEDED_CLASSES, seedClassSetAndModel } from '../helpers.js';

export async function makeTempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `metatpt-${prefix}-`));
}

/** Writes a 4×4 PNG whose colour depends on `seed`, so different images have different bytes. */
export async function writePng(file: string, seed: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const colour = { r: (seed * 37) % 256, g: (seed * 91) % 256, b: (seed * 13) % 256 };
  await sharp({ create: { width: 4, height: 4, channels: 3, background: colour } })
    .png()
    .toFile(file);
}

export interface ItemSpec {
  relativePath: string;
  label: string | null;
  source?: LabelSource;
  confidence?: number | null;
  probs?: Record<string, number>;
}

/** Creates the images of `specs` under `root` and returns them as export items. */
export async function makeItems(root: string, specs: ItemSpec[]): Promise<ExportItem[]> {
  const items: ExportItem[] = [];
  for (const [index, spec] of specs.entries()) {
    const sourcePath = path.join(root, spec.relativePath);
    await writePng(sourcePath, index + 1);
    items.push({
      sourcePath,
      relativePath: spec.relativePath,
      label: spec.label,
      confidence: spec.confidence ?? (spec.label === null ? null : 0.5),
      source: spec.label === null ? null : (spec.source ?? 'human'),
      ...(spec.probs ? { probs: spec.probs } : {}),
    });
  }
  return items;
}

/** Every file below `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** The classes of the seeded run, in ordinal order. */
export { SEEDED_CLASSES };

/** A result whose top class is `label` with probability `p`. */
function result(label: number, p: number): ImageResult {
  const probs = new Float32Array(3).fill((1 - p) / 2);
  probs[label] = p;
  return {
    label,
    probs,
    zeroShotProbs: probs,
    entropy: 0.5,
    zeroShotEntropy: 0.5,
    adapted: false,
    timings: {},
  };
}

export interface SeededRun {
  store: Store;
  collectionId: number;
  classSetId: number;
  runId: number;
  imageIds: number[];
}

/**
 * A store in `work` with a collection of six real PNGs (`a/img0..2`, `b/img3..5`), a three-class
 * set, a run with predictions for img0..img4 (confidences 0.9 down to 0.5), and the expert's
 * decisions: img0 labeled dog against the model, img1 accepted (dog), img2 rejected.
 */
export async function seedRun(work: string): Promise<SeededRun> {
  const root = path.join(work, 'photos');
  const store = openStore(path.join(work, 'workbench.db'));
  const collection = store.collections.create(root, 'photos');
  const imageIds: number[] = [];
  for (let i = 0; i < 6; i++) {
    const relPath = `${i < 3 ? 'a' : 'b'}/img${i}.png`;
    await writePng(path.join(root, relPath), i);
    const { size, mtimeMs } = await fs.stat(path.join(root, relPath));
    const contentHash = await hashFile(path.join(root, relPath));
    const file = { relPath, size, mtimeMs, contentHash, width: 4, height: 4, error: null };
    imageIds.push(store.images.insert(collection.id, file, Date.now()));
  }
  const { classSet, model } = seedClassSetAndModel(store);
  const run = createCollectionRun(store, { collection, classSet, model }, 'tpt', { steps: 1 });
  [0, 1, 2, 0, 1].forEach((label, i) =>
    store.results.recordResult(run.id, imageIds[i], result(label, 0.9 - i / 10)),
  );
  const decide = (decision: 'label' | 'reject', ordinal: number, source: 'human' | 'accepted') => ({
    decision,
    classOrdinal: decision === 'label' ? ordinal : null,
    rejectedOrdinal: decision === 'reject' ? ordinal : null,
    source,
    runId: source === 'human' && decision === 'label' ? null : run.id,
  });
  store.labels.apply({ collectionId: collection.id, classSetId: classSet.id }, 'review', [
    { imageId: imageIds[0], after: decide('label', 1, 'human') },
    { imageId: imageIds[1], after: decide('label', 1, 'accepted') },
    { imageId: imageIds[2], after: decide('reject', 2, 'human') },
  ]);
  return { store, collectionId: collection.id, classSetId: classSet.id, runId: run.id, imageIds };
}
