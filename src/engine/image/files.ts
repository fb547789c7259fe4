// Finding the image files in a folder tree.
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import sharp from 'sharp';

// Vector (svg) and libvips' own format are readable but are not photos to classify.
const EXCLUDED_FORMATS = new Set(['svg', 'vips']);

/** Lower-case file extensions (with the dot) that this build of sharp decodes, e.g. ".jpg", ".avif". */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(
  Object.entries(sharp.format)
    .filter(([id, format]) => format.input.file && !EXCLUDED_FORMATS.has(id))
    .flatMap(([, format]) => (format.input as { fileSuffix?: string[] }).fileSuffix ?? []),
);

export function isImageFile(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(path).toLowerCase());
}

async function entryKind(dir: string, entry: Dirent): Promise<'file' | 'dir' | 'other'> {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'dir';
  if (!entry.isSymbolicLink()) return 'other';
  try {
    const target = await stat(join(dir, entry.name));
    return target.isFile() ? 'file' : target.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'other'; // dangling link
  }
}

/**
 * All image files under `folder` (recursively, following symlinks, each real directory visited once so
 * link loops end), as absolute paths in sorted order. Hidden entries (".name", e.g. macOS "._x.jpg"
 * resource forks) and unreadable subfolders are skipped.
 */
export async function listImageFiles(folder: string): Promise<string[]> {
  const visited = new Set<string>();
  const found: string[] = [];
  async function walk(dir: string, isRoot: boolean): Promise<void> {
    let entries: Dirent[];
    try {
      const real = await realpath(dir);
      if (visited.has(real)) return;
      visited.add(real);
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isRoot) throw new Error(`cannot list image folder ${dir}: ${(err as Error).message}`);
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const kind = await entryKind(dir, entry);
      if (kind === 'dir') await walk(path, false);
      else if (kind === 'file' && isImageFile(entry.name)) found.push(path);
    }
  }
  await walk(resolve(folder), true);
  return found.sort();
}
