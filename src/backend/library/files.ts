// Walking a collection folder: which files are images, and how to visit a tree without following
// symlinks out of it or around in loops.
import { opendir, realpath, stat } from 'node:fs/promises';
import { extname, join, relative, isAbsolute } from 'node:path';

/** Extensions of the formats sharp decodes. */
export const imageExtensions: ReadonlySet<string> = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.tif',
  '.tiff',
  '.gif',
  '.avif',
]);

export const isImageFileName = (name: string): boolean => imageExtensions.has(extname(name).toLowerCase());

/** Whether target is root itself or below it (both real, absolute paths). */
export function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export interface FoundFile {
  absPath: string;
  /** '/'-separated, relative to the root as the user sees it (through symlinks). */
  relPath: string;
  size: number;
  mtimeMs: number;
}

export interface WalkProblem {
  relPath: string;
  message: string;
}

/**
 * Yields every image file under root, depth first, one directory handle open at a time. Hidden
 * entries (".name") are skipped. Symlinks are followed only when their target stays inside the root,
 * and each real directory is visited once, so a link back up the tree ends instead of looping.
 */
export async function* walkImageFiles(
  root: string,
  options: { signal?: AbortSignal; onProblem?: (problem: WalkProblem) => void } = {},
): AsyncGenerator<FoundFile> {
  const realRoot = await realpath(root);
  const visited = new Set<string>([realRoot]);
  const pending: { abs: string; rel: string }[] = [{ abs: realRoot, rel: '' }];
  const report = (relPath: string, error: unknown) =>
    options.onProblem?.({ relPath, message: error instanceof Error ? error.message : String(error) });

  while (pending.length > 0) {
    const dir = pending.pop()!;
    let handle;
    try {
      handle = await opendir(dir.abs, { bufferSize: 256 });
    } catch (error) {
      report(dir.rel, error);
      continue;
    }
    for await (const entry of handle) {
      options.signal?.throwIfAborted();
      if (entry.name.startsWith('.')) continue;
      const abs = join(dir.abs, entry.name);
      const rel = dir.rel === '' ? entry.name : `${dir.rel}/${entry.name}`;
      try {
        let target = abs;
        let isDirectory = entry.isDirectory();
        let isFile = entry.isFile();
        if (entry.isSymbolicLink()) {
          target = await realpath(abs);
          if (!isInside(realRoot, target)) continue;
          const info = await stat(target);
          isDirectory = info.isDirectory();
          isFile = info.isFile();
        }
        if (isDirectory) {
          if (visited.has(target)) continue;
          visited.add(target);
          pending.push({ abs: target, rel });
        } else if (isFile && isImageFileName(entry.name)) {
          const info = await stat(target);
          yield { absPath: abs, relPath: rel, size: info.size, mtimeMs: Math.trunc(info.mtimeMs) };
        }
      } catch (error) {
        report(rel, error);
      }
    }
  }
}

/** Joins a stored '/'-separated relative path onto a root with the platform's separator. */
export const toAbsolute = (root: string, relPath: string): string => join(root, ...relPath.split('/'));
