// Collections and their images as the API and the store know them, and what a scan reports.
import type { SkippedEntry } from './image-types.js';
import type { ClassSet } from './class-sets.js';
import type { ImportSummary } from './export.js';

export interface Collection {
  id: number;
  root: string;
  name: string;
  createdAt: number;
  lastScanAt: number | null;
  /**
   * Symbolic links that lead out of the folder are followed (by scans, runs, thumbnails, the image
   * routes and exports) only when the user chose so for this collection; otherwise they are skipped
   * by scans and refused everywhere else.
   */
  followLinks: boolean;
  /** What the last finished scan found; null before the first (or for a scan before this was kept). */
  lastScan: ScanSummary | null;
}

export interface CollectionSummary extends Collection {
  imageCounts: Record<ImageStatus, number>;
}

/** ok: decoded; error: could not be read or decoded (kept, with why); missing: gone from the folder. */
export const IMAGE_STATUSES = ['ok', 'error', 'missing'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export interface ImageRecord {
  id: number;
  collectionId: number;
  relPath: string;
  size: number;
  mtimeMs: number;
  contentHash: string | null;
  width: number | null;
  height: number | null;
  status: ImageStatus;
  error: string | null;
  firstSeen: number;
  lastSeen: number;
}

export interface ScanCounts {
  added: number;
  changed: number;
  unchanged: number;
  /**
   * Image files read in this scan (new or changed) that could not be read or decoded. Entries the walk
   * itself could not read (folders, files it could not stat) are skipped entries with reason unreadable.
   */
  errors: number;
}

export interface ScanProgress extends ScanCounts {
  collectionId: number;
  /** Files seen so far (the total is unknown until the walk ends). */
  seen: number;
  currentPath: string | null;
}

/**
 * Paths a scan summary names per kind (new, changed, moved, removed, unreadable, skipped): the first
 * SCAN_LISTED of each (new, removed and unreadable by path, the others as the scan met them). The rest
 * are counted; `metatpt index --json` names them all. Also the cap of the summary stored with the
 * collection, which so stays a few tens of kilobytes at most.
 */
export const SCAN_LISTED = 100;

export interface ScanSummary extends ScanCounts {
  collectionId: number;
  removed: number;
  moved: number;
  durationMs: number;
  /** The new images' paths (a file that came back after being missing is new again). */
  addedPaths: string[];
  /** Images whose size or modification time changed, so they were read again. */
  changedPaths: string[];
  /** Images found at a new path with the same contents (they keep their labels and results). */
  movedPaths: { from: string; to: string }[];
  /** Images gone from the folder since the scan before (kept as missing, with their labels). */
  removedPaths: string[];
  /**
   * The collection's images that cannot be read or decoded as of this scan: the `errors` of this scan
   * and those found unreadable earlier (by a scan or a run) whose files have not changed since.
   */
  unreadable: number;
  /** Those images, with why. */
  failed: { path: string; error: string }[];
  /** How many entries of the folder were not taken as images (hidden, not an image, link out, …). */
  skippedCount: number;
  /** Those entries, each with its reason. */
  skipped: SkippedEntry[];
}

export interface DemoOpened {
  collection: CollectionSummary;
  scan: ScanSummary;
  classSet: ClassSet;
  /** The ground truth as imported labels; null where the demo has no ground-truth file. */
  groundTruth: (ImportSummary & { file: string }) | null;
}
