// Turning a relative path that came from outside (the renderer, a URL) into a file inside a
// collection, or refusing it. This is what keeps the image protocol from serving other files.
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, win32 } from 'node:path';
import type { Store } from '../store/index.js';
import { isInside, toAbsolute } from './files.js';

export class PathRefusedError extends Error {
  constructor(
    readonly relPath: string,
    readonly reason: string,
  ) {
    super(`refused path ${JSON.stringify(relPath)}: ${reason}`);
    this.name = 'PathRefusedError';
  }
}

/** Decodes percent-escapes until the text stops changing, so %252e%252e is seen as '..' too. */
function fullyDecoded(text: string): string {
  let current = text;
  for (let i = 0; i < 5; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return current;
    }
    if (next === current) return current;
    current = next;
  }
  return current;
}

/** The lexical checks, done before touching the disk. Returns the path's segments. */
function checkedSegments(relPath: string): string[] {
  const refuse = (reason: string) => {
    throw new PathRefusedError(relPath, reason);
  };
  if (relPath.length === 0) refuse('empty path');
  const decoded = fullyDecoded(relPath);
  for (const form of [relPath, decoded]) {
    if (form.includes('\0')) refuse('contains a NUL byte');
    if (isAbsolute(form) || win32.isAbsolute(form)) refuse('absolute path');
    if (form.split(/[\\/]/).includes('..')) refuse('contains a ".." segment');
  }
  // Backslashes are separators on Windows and so may not be trusted as part of a name anywhere.
  return relPath.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
}

export interface ResolveOptions {
  /** Accept a file whose links lead out of the root (a collection the user added with that choice). */
  followLinksOutside?: boolean;
}

/**
 * The absolute real path of relPath below `root`, if it names an existing regular file inside the
 * root after resolving symlinks (or anywhere, with followLinksOutside); otherwise throws
 * PathRefusedError. The one path rule of the image routes, runs, thumbnails and exports: a file
 * swapped for a link out of the folder is not read.
 */
export async function resolveInsideRoot(
  root: string,
  relPath: string,
  options: ResolveOptions = {},
): Promise<string> {
  const segments = checkedSegments(relPath);
  const realRoot = await realpath(root);
  let target: string;
  try {
    target = await realpath(toAbsolute(realRoot, segments.join('/')));
  } catch {
    throw new PathRefusedError(relPath, 'no such file in the collection');
  }
  if (!options.followLinksOutside && !isInside(realRoot, target))
    throw new PathRefusedError(relPath, `leads outside the collection (to ${target})`);
  if (!(await stat(target)).isFile()) throw new PathRefusedError(relPath, 'not a file');
  return target;
}

/** resolveInsideRoot in the root of collection `collectionId` (which must exist), by its link choice. */
export async function resolveCollectionFile(
  store: Store,
  collectionId: number,
  relPath: string,
): Promise<string> {
  const { root, followLinks } = store.collections.require(collectionId);
  return resolveInsideRoot(root, relPath, { followLinksOutside: followLinks });
}
