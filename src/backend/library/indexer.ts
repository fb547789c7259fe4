// Indexing a collection: walk its folder, record new and changed files, notice moved and removed ones.
// Streams: at most `concurrency` files are inspected at a time and at most `batchSize` results wait
// for their transaction, so memory stays flat however large the folder.
import type { Store } from '../store/index.js';
import type { ScannedFile } from '../store/images.js';
import type { SkippedEntry } from '../../shared/domain/image-types.js';
import { walkImageFiles, type FoundFile, type WalkOptions } from './files.js';
import { inspectFile } from './inspect.js';
import {
  SCAN_LISTED,
  type ScanCounts,
  type ScanProgress,
  type ScanSummary,
} from '../../shared/domain/library.js';

/**
 * followLinksOutside, when given, is the collection's new choice (stored: runs, thumbnails and exports
 * follow it too); when absent, the collection's stored choice applies.
 */
export interface ScanOptions extends Pick<WalkOptions, 'followLinksOutside' | 'excludedFolders'> {
  signal?: AbortSignal;
  onProgress?: (progress: ScanProgress) => void;
  /** Files hashed at once; a few overlap disk reads without thrashing a spinning disk. */
  concurrency?: number;
  batchSize?: number;
  /** Minimum milliseconds between progress callbacks. */
  progressIntervalMs?: number;
  /**
   * Paths the summary names per kind (default SCAN_LISTED; Infinity names all, for `index --json`).
   * The summary stored with the collection keeps SCAN_LISTED of each whatever this is.
   */
  listLimit?: number;
}

type PendingWrite =
  | { kind: 'touch'; id: number }
  | { kind: 'insert'; file: ScannedFile }
  | { kind: 'update'; id: number; file: ScannedFile };

/**
 * Scans a collection's folder. An aborted scan writes what it found so far but marks nothing removed
 * (it cannot know), and rejects with the abort reason.
 */
export async function scanCollection(
  store: Store,
  collectionId: number,
  options: ScanOptions = {},
): Promise<ScanSummary> {
  const { signal, onProgress, concurrency = 4, batchSize = 500, progressIntervalMs = 200 } = options;
  const listLimit = options.listLimit ?? SCAN_LISTED;
  if (options.followLinksOutside !== undefined)
    store.collections.setFollowLinks(collectionId, options.followLinksOutside);
  const collection = store.collections.require(collectionId);
  const started = Date.now();
  // Later scans must stamp strictly later times: removal and move detection compare them.
  const scanStamp = Math.max(started, (collection.lastScanAt ?? 0) + 1);
  const counts: ScanCounts = { added: 0, changed: 0, unchanged: 0, errors: 0 };
  let seen = 0;
  let lastProgressAt = 0;
  const skipped: SkippedEntry[] = [];
  let skippedCount = 0;
  const changedPaths: string[] = [];
  /** Missing images found again unchanged (new again; inserted files are listed from the store). */
  const returned: { id: number; path: string }[] = [];

  let writes: PendingWrite[] = [];
  const flush = () => {
    if (writes.length === 0) return;
    const batch = writes;
    writes = [];
    store.transaction(() => {
      for (const write of batch) {
        if (write.kind === 'touch') store.images.touch(write.id, scanStamp);
        else if (write.kind === 'insert') store.images.insert(collectionId, write.file, scanStamp);
        else store.images.updateFile(write.id, collectionId, write.file, scanStamp);
      }
    });
  };
  const queue = (write: PendingWrite) => {
    writes.push(write);
    if (writes.length >= batchSize) flush();
  };
  const progress = (currentPath: string | null, force = false) => {
    const now = Date.now();
    if (!onProgress || (!force && now - lastProgressAt < progressIntervalMs)) return;
    lastProgressAt = now;
    onProgress({ collectionId, seen, currentPath, ...counts });
  };

  const inFlight = new Set<Promise<void>>();
  const inspect = (found: FoundFile, existingId: number | null) => {
    const task = inspectFile(found.absPath).then((inspection) => {
      const file: ScannedFile = {
        relPath: found.relPath,
        size: found.size,
        mtimeMs: found.mtimeMs,
        ...inspection,
      };
      if (inspection.error) counts.errors++;
      if (existingId === null) {
        counts.added++;
        queue({ kind: 'insert', file });
      } else {
        if (counts.changed++ < listLimit) changedPaths.push(found.relPath);
        queue({ kind: 'update', id: existingId, file });
      }
    });
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  try {
    const files = walkImageFiles(collection.root, {
      signal,
      followLinksOutside: collection.followLinks,
      excludedFolders: options.excludedFolders,
      onSkip: (entry) => {
        if (skippedCount++ < listLimit) skipped.push(entry);
      },
    });
    for await (const found of files) {
      seen++;
      const existing = store.images.findByPath(collectionId, found.relPath);
      if (!existing) {
        inspect(found, null);
      } else if (existing.size !== found.size || existing.mtimeMs !== found.mtimeMs) {
        inspect(found, existing.id);
      } else {
        if (existing.status !== 'missing') counts.unchanged++;
        else {
          counts.added++;
          if (returned.length < listLimit) returned.push({ id: existing.id, path: found.relPath });
        }
        queue({ kind: 'touch', id: existing.id });
      }
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
      progress(found.relPath);
    }
    await Promise.all(inFlight);
  } finally {
    // Keep the work done so far, even on abort or error: the next scan then only does the rest.
    await Promise.allSettled(inFlight);
    flush();
  }

  const { moved, removed, movedPaths, removedPaths } = store.images.finishScan(
    collectionId,
    scanStamp,
    listLimit,
  );
  // A moved file was counted as added when its new path appeared (and its row was then merged away).
  const addedPaths = [
    ...store.images.firstSeenAt(collectionId, scanStamp, listLimit),
    ...returned.filter(({ id, path }) => store.images.get(id)?.relPath === path).map(({ path }) => path),
  ]
    .sort()
    .slice(0, listLimit);
  const failed = store.images
    .unreadable(collectionId, listLimit)
    .map(({ relPath, error }) => ({ path: relPath, error }));
  const summary: ScanSummary = {
    collectionId,
    ...counts,
    added: counts.added - moved,
    moved,
    removed,
    durationMs: Date.now() - started,
    addedPaths,
    changedPaths,
    movedPaths,
    removedPaths,
    unreadable: store.images.countByStatus(collectionId).error,
    failed,
    skippedCount,
    skipped,
  };
  store.collections.markScanned(collectionId, scanStamp, listedAtMost(summary, SCAN_LISTED));
  store.optimize();
  progress(null, true);
  return summary;
}

/** The summary naming at most `limit` paths of each kind (the counts stay whole). */
function listedAtMost(summary: ScanSummary, limit: number): ScanSummary {
  return {
    ...summary,
    addedPaths: summary.addedPaths.slice(0, limit),
    changedPaths: summary.changedPaths.slice(0, limit),
    movedPaths: summary.movedPaths.slice(0, limit),
    removedPaths: summary.removedPaths.slice(0, limit),
    failed: summary.failed.slice(0, limit),
    skipped: summary.skipped.slice(0, limit),
  };
}
