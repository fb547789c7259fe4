// Exports and imports of labels as the API, the CLI and the exporters name them.

/** Dataset layouts a run exports to (see docs: ImageFolder, YOLO classification, CSV, JSONL, HF, Label Studio). */
export const EXPORT_FORMATS = [
  'imagefolder',
  'yolo-cls',
  'csv',
  'jsonl',
  'hf-imagefolder',
  'labelstudio',
] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** How an exported image is placed: copied, hard-linked or symlinked to the original. */
export const LINK_MODES = ['copy', 'hardlink', 'symlink'] as const;
export type LinkMode = (typeof LINK_MODES)[number];

/**
 * Which labels an export takes: 'reviewed' = the expert's label where he gave one, else the imported
 * one (the default everywhere); 'predictions' = those, and the model's prediction elsewhere.
 */
export const EXPORT_INCLUDES = ['reviewed', 'predictions'] as const;
export type ExportInclude = (typeof EXPORT_INCLUDES)[number];

/** Where unlabeled images go: left out, or under a reserved folder. */
export const UNLABELED_MODES = ['omit', 'folder'] as const;
export type UnlabeledMode = (typeof UNLABELED_MODES)[number];

/**
 * Label sources an import reads: a class-folder tree, a CSV, one of our export folders, or a Label
 * Studio JSON/JSON_MIN/CSV export file.
 */
export const IMPORT_FORMATS = ['imagefolder', 'csv', 'export', 'labelstudio'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** Images an export wrote, by where their label came from. */
export interface ExportCounts {
  reviewed: number;
  accepted: number;
  predicted: number;
  imported: number;
  unlabeled: number;
  /** Unlabeled items left out because `unlabeled` was 'omit'. */
  omittedUnlabeled: number;
}
/** What export.run answers: the folder written and its counts. */
export interface ExportSummary {
  outDir: string;
  counts: ExportCounts;
}

/**
 * What an import of labels did: imported labels stored (new or replacing another class), left as they
 * were, skipped (and why), and what matched nothing. It never changes the expert's decisions.
 */
export interface ImportSummary {
  /** Imported labels written: images without one before, and `replaced`. */
  applied: number;
  /** Images whose earlier imported label named another class. */
  replaced: number;
  /** Images that already had this imported label. */
  unchanged: number;
  unknownClass: number;
  unmatched: number;
  /** Each label value that names no class of the class set, with how many rows gave it. */
  unknownLabels: { label: string; count: number }[];
  /** Each imported file that matched no image (or an image already matched), with why. */
  unmatchedFiles: { path: string; reason: string }[];
  warnings: string[];
}
