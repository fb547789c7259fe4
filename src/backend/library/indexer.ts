// Indexing a collection: walk its folder, record new and changed files, notice moved and removed ones.
// Streams: at most `concurrency` files are inspected at a time and at most `batchSize` results wait
// for their transaction, so memory stays flat however large the folder.
import type { Store } from '../store/index.js';
import type { ScannedFile } from '../store/images.js';
import type { SkippedEntry } from '../../shared/domain/image-types.js';
import { walkImageFiles, type FoundFile, type WalkOptions } from './files.js';
import { inspectFile } from './inspect.js';
import type { ScanCounts, ScanProgress, ScanSummary } from '../../shared/domain/library.js';

/** Skipped entries named in a scan summary; the rest are only counted. */
export const SKIPPED_LISTED = 1000;

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
  const failed: ScanSummary['failed'] = [];

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
      if (inspection.error && counts.errors++ < SKIPPED_LISTED)
        failed.push({ path: found.relPath, error: inspection.error });
      if (existingId === null) {
        counts.added++;
        queue({ kind: 'insert', file });
      } else {
        counts.changed++;
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
        if (entry.reason === 'unreadable') counts.errors++;
        if (skippedCount++ < SKIPPED_LISTED) skipped.push(entry);
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
        if (existing.status === 'missing') counts.added++;
        else counts.unchanged++;
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

  const { moved, removed } = store.images.finishScan(collectionId, scanStamp);
  // A moved file was counted as added when its new path appeared.
  const summary: ScanSummary = {
    collectionId,
    ...counts,
    added: counts.added - moved,
    moved,
    removed,
    durationMs: Date.now() - started,
    skippedCount,
    skipped,
    failed,
  };
  store.collections.markScanned(collectionId, scanStamp, summary);
  store.optimize();
  progress(null, true);
  return summary;
}
