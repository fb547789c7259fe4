// The image grid's query and page: filters and sort keys the store maps to indexed columns.
import type { LabelKind } from './evaluation.js';
import type { ImageStatus } from './library.js';
import type { Decision, LabelSource } from './labels.js';

/**
 * Review states the grid filters on, by the expert's decision only ('unreviewed' includes skipped
 * images and those with nothing but an imported label).
 */
export const REVIEW_STATES = ['unreviewed', 'reviewed', 'labeled', 'rejected', 'skipped'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];

export const GRID_SORT_KEYS = ['entropy', 'confidence', 'zeroShotEntropy', 'path', 'id'] as const;
export type GridSortKey = (typeof GRID_SORT_KEYS)[number];

export interface Range {
  min?: number;
  max?: number;
}

export interface GridQuery {
  collectionId: number;
  /** The run whose predictions are shown and filtered on. */
  runId?: number;
  /**
   * Show the run's view: for each image the result of the newest run layered on it that covers the
   * image, else the run's own (each item's runId says which). Default: the run alone.
   */
  layered?: boolean;
  /** The class set whose labels are shown; defaults to the run's. */
  classSetId?: number;
  /**
   * Only images the run (its view, when layered) has a prediction for (true), or only those it has
   * none for (false). Needs runId; false cannot be combined with a filter on predictions.
   */
  hasPrediction?: boolean;
  predictedClass?: number;
  /** Only images the expert labelled with this class (imported labels do not count). */
  labelClass?: number;
  reviewState?: ReviewState;
  confidence?: Range;
  entropy?: Range;
  /** Only images whose adapted prediction differs from the zero-shot one (true), or agrees (false). */
  disagreement?: boolean;
  /**
   * Only labelled images the run fixed (right where its zero-shot prediction was wrong) or broke (the
   * reverse), judged by labels of the given kind (default 'all'). Needs runId, and the run's class set.
   */
  versusZeroShot?: { outcome: 'fixed' | 'broken'; against?: LabelKind };
  /** Defaults to readable and broken files; missing files are left out unless asked for. */
  statuses?: ImageStatus[];
  sort?: { key: GridSortKey; direction?: 'asc' | 'desc' };
  offset?: number;
  limit?: number;
}

export interface GridItem {
  imageId: number;
  relPath: string;
  width: number | null;
  height: number | null;
  status: ImageStatus;
  error: string | null;
  /** Content hash of the file (changes when the file does: thumbnails are keyed by it). */
  contentHash: string | null;
  /** The run the prediction comes from (in a layered view, a layer's or the base's). */
  runId: number | null;
  predicted: number | null;
  confidence: number | null;
  entropy: number | null;
  zeroShotLabel: number | null;
  zeroShotEntropy: number | null;
  adapted: boolean | null;
  /** The expert's decision, its class (for 'label') and how it was made. */
  decision: Decision | null;
  labelClass: number | null;
  labelSource: LabelSource | null;
  /** The class of the label imported from a file, kept apart from the decision. */
  importedClass: number | null;
}

export interface GridPage {
  total: number;
  offset: number;
  items: GridItem[];
}

export const maxGridPageSize = 1000;
