// Walking a collection folder: which entries are images (the one list in src/shared/domain), how to
// visit a tree without following symlinks out of it or around in loops, and why each entry that is
// not taken was skipped, so that no file disappears without a word.
import { opendir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { isImageName, type SkipReason, type SkippedEntry } from '../../shared/domain/image-types.js';
import { MANIFEST_FILE, MANIFEST_KIND } from '../export/types.js';

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

export interface WalkOptions {
  signal?: AbortSignal;
  /** Called for every entry that is not yielded, with why (hidden, not an image, link out, …). */
  onSkip?: (entry: SkippedEntry) => void;
  /**
   * Follow symbolic links whose target lies outside the root (default false: such links are skipped
   * and reported as 'link-outside-folder', so a folder of links never silently becomes empty).
   */
  followLinksOutside?: boolean;
  /** Real paths of folders never to enter (the app's data folder, export folders). */
  excludedFolders?: readonly string[];
}

/** The cache-directory marker (https://bford.info/cachedir/) that the thumbnail cache writes. */
export const CACHEDIR_TAG = 'CACHEDIR.TAG';
const CACHEDIR_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';
export const CACHEDIR_TAG_CONTENT = `${CACHEDIR_SIGNATURE}\n# MetaTPT Workbench thumbnail cache (safe to delete).\n`;

/** Whether `path` is a regular file (false for a folder, a missing path or one that cannot be read). */
export async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isFile(),
    () => false,
  );
}

async function isExportManifest(path: string): Promise<boolean> {
  if (!(await isFile(path))) return false;
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as { kind?: unknown }).kind === MANIFEST_KIND;
  } catch {
    return false;
  }
}

/**
 * Whether a folder is one the app itself wrote (a thumbnail cache, an export, a model): indexing it
 * would add the app's own output to the user's images (an export into the collection doubles it).
 */
export async function isAppFolder(dir: string): Promise<boolean> {
  const tag = join(dir, CACHEDIR_TAG);
  if ((await isFile(tag)) && (await readFile(tag, 'utf8')).startsWith(CACHEDIR_SIGNATURE)) return true;
  if (await isExportManifest(join(dir, MANIFEST_FILE))) return true;
  // A Hugging Face model folder (config + weights), as the model manager installs them.
  return (await isFile(join(dir, 'model.safetensors'))) && (await isFile(join(dir, 'config.json')));
}

/**
 * Yields every image file under root, depth first, one directory handle open at a time. Symlinks are
 * followed when their target stays inside the root (or always, with followLinksOutside), and each real
 * directory is visited once, so a link back up the tree ends instead of looping. Every entry not
 * yielded is reported to onSkip with its reason.
 */
export async function* walkImageFiles(root: string, options: WalkOptions = {}): AsyncGenerator<FoundFile> {
  const realRoot = await realpath(root);
  const excluded = new Set(options.excludedFolders ?? []);
  const visited = new Set<string>([realRoot]);
  const pending: { abs: string; rel: string }[] = [{ abs: realRoot, rel: '' }];
  const skip = (path: string, reason: SkipReason, detail?: string) =>
    options.onSkip?.({ path, reason, ...(detail === undefined ? {} : { detail }) });

  while (pending.length > 0) {
    const dir = pending.pop()!;
    if (dir.rel !== '' && (excluded.has(dir.abs) || (await isAppFolder(dir.abs)))) {
      skip(dir.rel, 'app-folder');
      continue;
    }
    let handle;
    try {
      handle = await opendir(dir.abs, { bufferSize: 256 });
    } catch (error) {
      skip(dir.rel || '.', 'unreadable', (error as Error).message);
      continue;
    }
    for await (const entry of handle) {
      options.signal?.throwIfAborted();
      const rel = dir.rel === '' ? entry.name : `${dir.rel}/${entry.name}`;
      if (entry.name.startsWith('.')) {
        skip(rel, 'hidden');
        continue;
      }
      const abs = join(dir.abs, entry.name);
      try {
        let target = abs;
        let isDirectory = entry.isDirectory();
        let isFile = entry.isFile();
        if (entry.isSymbolicLink()) {
          try {
            target = await realpath(abs);
          } catch {
            skip(rel, 'broken-link');
            continue;
          }
          if (!options.followLinksOutside && !isInside(realRoot, target)) {
            skip(rel, 'link-outside-folder', target);
            continue;
          }
          const info = await stat(target);
          isDirectory = info.isDirectory();
          isFile = info.isFile();
        }
        if (isDirectory) {
          if (visited.has(target)) skip(rel, 'loop', target);
          else {
            visited.add(target);
            pending.push({ abs: target, rel });
          }
        } else if (!isFile) {
          skip(rel, 'special-file');
        } else if (!isImageName(entry.name)) {
          skip(rel, 'not-an-image');
        } else {
          const info = await stat(target);
          yield { absPath: abs, relPath: rel, size: info.size, mtimeMs: Math.trunc(info.mtimeMs) };
        }
      } catch (error) {
        skip(rel, 'unreadable', (error as Error).message);
      }
    }
  }
}

/** Joins a stored '/'-separated relative path onto a root with the platform's separator. */
export const toAbsolute = (root: string, relPath: string): string => join(root, ...relPath.split('/'));
