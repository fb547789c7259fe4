// Writes an export: plans it, fills a hidden sibling folder, then renames it into place, so the
// target either holds a complete export or nothing at all.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isInside } from '../library/files.js';
import { dataFilesFor, labelStudioRoot } from './data-files.js';
import { planExport, type ExportPlan, type PlannedFile } from './layout.js';
import {
  MANIFEST_FILE,
  MANIFEST_KIND,
  exportItemSchema,
  exportOptionsSchema,
  type ExportControl,
  type ExportCounts,
  type ExportItem,
  type ExportManifest,
  type ExportOptions,
  type ExportResult,
  type LinkMode,
  type ResolvedExportOptions,
} from './types.js';
import { InvalidRequestError } from '../store/errors.js';

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parseInputs(items: readonly unknown[], options: ExportOptions) {
  const parsedOptions = exportOptionsSchema.safeParse(options);
  if (!parsedOptions.success)
    throw new InvalidRequestError(`Invalid export options: ${z.prettifyError(parsedOptions.error)}`);
  const parsedItems = z.array(exportItemSchema).safeParse(items);
  if (!parsedItems.success)
    throw new InvalidRequestError(`Invalid export items: ${z.prettifyError(parsedItems.error)}`);
  const seen = new Set<string>();
  for (const item of parsedItems.data) {
    if (seen.has(item.relativePath))
      throw new InvalidRequestError(`Invalid export items: "${item.relativePath}" is listed twice`);
    seen.add(item.relativePath);
  }
  return { items: parsedItems.data, options: parsedOptions.data };
}

/** Refuses anything at `outDir` except an empty folder: an export never overwrites. */
async function assertTargetFree(outDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(outDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR')
      throw new InvalidRequestError(`Export target ${outDir} exists and is a file, not a folder`);
    throw new InvalidRequestError(`Cannot use export target ${outDir}: ${errorMessage(error)}`);
  }
  if (entries.length > 0) {
    throw new InvalidRequestError(
      `Export target ${outDir} is not empty (${entries.length} entries): choose an empty or new folder`,
    );
  }
}

/**
 * The real path of `source` when it lies inside `realRoot` (links resolved); otherwise an error
 * naming the file and where it leads. The export then reads what was checked, not the link.
 */
async function sourceInside(realRoot: string, source: string): Promise<string> {
  let real: string;
  try {
    real = await fs.realpath(source);
  } catch (error) {
    throw new InvalidRequestError(`Could not read ${source}: ${errorMessage(error)}`);
  }
  if (!isInside(realRoot, real)) {
    throw new InvalidRequestError(`${source} leads outside the collection (to ${real}); it is not exported`);
  }
  return real;
}

const PLACE_VERB: Record<LinkMode, string> = { copy: 'copy', hardlink: 'hard-link', symlink: 'symlink' };

/** Puts one image at `dest` without ever replacing an existing file. */
async function placeFile(source: string, dest: string, mode: LinkMode): Promise<void> {
  try {
    if (mode === 'copy') {
      // FICLONE makes a copy-on-write clone where the file system supports it, a plain copy elsewhere.
      await fs.copyFile(source, dest, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
    } else if (mode === 'hardlink') {
      await fs.link(source, dest);
    } else {
      await fs.symlink(source, dest);
    }
  } catch (error) {
    const hint =
      (error as NodeJS.ErrnoException).code === 'EXDEV'
        ? ' (hard links only work within one drive: use copy)'
        : '';
    throw new Error(`Could not ${PLACE_VERB[mode]} ${source} to ${dest}: ${errorMessage(error)}${hint}`);
  }
}

/**
 * Runs `task` over `values` with at most `limit` in flight. Stops taking new work at the first
 * failure or abort, and settles every task in flight before rejecting, so the caller can clean up
 * without a straggler writing afterwards.
 */
async function forEachLimited<T>(
  values: readonly T[],
  limit: number,
  task: (value: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < values.length) {
      const value = values[next++];
      try {
        signal?.throwIfAborted();
        await task(value);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, values.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

function countSources(plan: ExportPlan): ExportCounts {
  const counts: ExportCounts = {
    reviewed: 0,
    accepted: 0,
    predicted: 0,
    imported: 0,
    unlabeled: 0,
    omittedUnlabeled: plan.omittedUnlabeled,
  };
  for (const { item } of plan.files) {
    if (item.source === null) counts.unlabeled++;
    else if (item.source === 'human') counts.reviewed++;
    else counts[item.source]++;
  }
  return counts;
}

function buildManifest(plan: ExportPlan, options: ResolvedExportOptions): ExportManifest {
  const { manifest: input, format, link, unlabeled, hfMetadata } = options;
  return {
    kind: MANIFEST_KIND,
    ...input,
    createdAt: input.createdAt ?? new Date().toISOString(),
    format,
    options: {
      link,
      unlabeled,
      split: plan.split,
      ...(format === 'hf-imagefolder' ? { hfMetadata } : {}),
      ...(format === 'labelstudio' ? { labelStudioDocumentRoot: labelStudioRoot(options) } : {}),
    },
    counts: countSources(plan),
    classFolders: Object.fromEntries([...plan.classFolders].map(([name, folder]) => [folder, name])),
    notes: plan.notes,
    files: plan.files.map((file) => ({ path: file.path, sourceRelativePath: file.item.relativePath })),
  };
}

/** Creates `dir` and any missing parents; returns the new folders, outermost first, for clean-up. */
async function makeParents(dir: string): Promise<string[]> {
  const first = await fs.mkdir(dir, { recursive: true });
  if (!first) return [];
  const created = [first];
  for (let current = first; current !== dir;) {
    current = path.join(current, path.relative(current, dir).split(path.sep)[0]);
    created.push(current);
  }
  return created;
}

/** Removes the partial export, and the parent folders this export created if they are now empty. */
async function cleanUp(tempDir: string, createdParents: string[]): Promise<void> {
  await fs.rm(tempDir, { recursive: true, force: true });
  for (const dir of [...createdParents].reverse()) {
    await fs.rmdir(dir).catch(() => undefined);
  }
}

async function writeExport(
  plan: ExportPlan,
  options: ResolvedExportOptions,
  tempDir: string,
  control: ExportControl,
): Promise<ExportManifest> {
  const folders = new Set(plan.files.map((file) => path.posix.dirname(file.path)));
  for (const folder of folders) await fs.mkdir(path.join(tempDir, folder), { recursive: true });

  let done = 0;
  const total = plan.files.length;
  const realRoot = options.sourceRoot === undefined ? null : await fs.realpath(options.sourceRoot);
  await forEachLimited(
    plan.files,
    options.concurrency,
    async (file: PlannedFile) => {
      const source = realRoot ? await sourceInside(realRoot, file.item.sourcePath) : file.item.sourcePath;
      await placeFile(source, path.join(tempDir, file.path), options.link);
      done++;
      control.onProgress?.({ done, total, currentFile: file.item.relativePath });
    },
    control.signal,
  );

  const manifest = buildManifest(plan, options);
  const dataFiles = [
    ...dataFilesFor(plan, options),
    { path: MANIFEST_FILE, content: JSON.stringify(manifest, null, 2) + '\n' },
  ];
  for (const dataFile of dataFiles) {
    control.signal?.throwIfAborted();
    await fs.writeFile(path.join(tempDir, dataFile.path), dataFile.content, { flag: 'wx' });
  }
  return manifest;
}

/**
 * Exports `items` as `options.format` into `options.outDir`, which must not exist or be empty.
 * Work happens in a hidden sibling folder (`.<name>.partial-<random>`) that is renamed into place
 * at the end; on failure or abort it is removed and nothing is left behind. The manifest's
 * `createdAt` is the caller's when given, else the current time.
 */
export async function exportDataset(
  items: readonly ExportItem[],
  options: ExportOptions,
  control: ExportControl = {},
): Promise<ExportResult> {
  const parsed = parseInputs(items, options);
  const outDir = path.resolve(parsed.options.outDir);
  await assertTargetFree(outDir);
  const plan = planExport(parsed.items, parsed.options);

  const parent = path.dirname(outDir);
  const createdParents = await makeParents(parent);
  const tempDir = path.join(parent, `.${path.basename(outDir)}.partial-${randomBytes(6).toString('hex')}`);
  try {
    await fs.mkdir(tempDir);
    const manifest = await writeExport(plan, { ...parsed.options, outDir }, tempDir, control);
    control.signal?.throwIfAborted();
    // An empty target folder may exist; rmdir refuses if something appeared in it meanwhile.
    await fs.rmdir(outDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT')
        throw new Error(`Export target ${outDir} is no longer empty: ${error.message}`);
    });
    await fs.rename(tempDir, outDir);
    return { outDir, manifest };
  } catch (error) {
    await cleanUp(tempDir, createdParents);
    throw error;
  }
}
