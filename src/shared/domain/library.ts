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
  /** Files that could not be read or decoded in this scan, and unreadable folders. */
  errors: number;
}

export interface ScanProgress extends ScanCounts {
  collectionId: number;
  /** Files seen so far (the total is unknown until the walk ends). */
  seen: number;
  currentPath: string | null;
}

export interface ScanSummary extends ScanCounts {
  collectionId: number;
  removed: number;
  moved: number;
  durationMs: number;
  /** How many entries of the folder were not taken as images (hidden, not an image, link out, …). */
  skippedCount: number;
  /** The first SKIPPED_LISTED of them, each with its reason. */
  skipped: SkippedEntry[];
  /** Images of this scan that could not be read or decoded (the first SKIPPED_LISTED), with why. */
  failed: { path: string; error: string }[];
}

export interface DemoOpened {
  collection: CollectionSummary;
  scan: ScanSummary;
  classSet: ClassSet;
  /** The ground truth as imported labels; null where the demo has no ground-truth file. */
  groundTruth: (ImportSummary & { file: string }) | null;
}
