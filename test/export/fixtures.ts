// Small real PNGs in a temp folder, standing in for a collection on disk.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ExportItem, LabelSource } from '../../src/backend/export/index.js';

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
