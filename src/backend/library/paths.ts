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

/**
 * The absolute real path of relPath in the collection, if it names an existing file inside the
 * collection root after resolving symlinks; otherwise throws PathRefusedError (or a missing
 * collection error).
 */
export async function resolveCollectionFile(
  store: Store,
  collectionId: number,
  relPath: string,
): Promise<string> {
  const segments = checkedSegments(relPath);
  const collection = store.collections.require(collectionId);
  const realRoot = await realpath(collection.root);
  let target: string;
  try {
    target = await realpath(toAbsolute(realRoot, segments.join('/')));
  } catch {
    throw new PathRefusedError(relPath, 'no such file in the collection');
  }
  if (!isInside(realRoot, target)) throw new PathRefusedError(relPath, 'leads outside the collection');
  if (!(await stat(target)).isFile()) throw new PathRefusedError(relPath, 'not a file');
  return target;
}
