// Plain-data types of the export layer, with zod schemas that validate them at the boundary.
// Nothing here knows about the store: an adapter turns store rows into ExportItems.
import path from 'node:path';
import { z } from 'zod';
import {
  EXPORT_FORMATS,
  LINK_MODES,
  UNLABELED_MODES,
  type ExportCounts,
  type ExportFormat,
  type LinkMode,
} from '../../shared/domain/export.js';

export { EXPORT_FORMATS, LINK_MODES, type ExportCounts, type ExportFormat, type LinkMode };

export const LABEL_SOURCES = ['human', 'accepted', 'imported', 'predicted'] as const;
export type LabelSource = (typeof LABEL_SOURCES)[number];

/** The fixed columns of labels.csv / labels.jsonl / metadata.*; `path` is `file_name` in Hugging Face metadata. */
export const TABLE_COLUMNS = ['path', 'label', 'confidence', 'source', 'split', 'source_path'] as const;
/** `extra` keys may not reuse a fixed column or a JSONL field. */
const RESERVED_EXTRA_KEYS: readonly string[] = [...TABLE_COLUMNS, 'file_name', 'probs', 'extra'];

export const exportItemSchema = z
  .object({
    sourcePath: z.string().refine((p) => path.isAbsolute(p), 'sourcePath must be absolute'),
    relativePath: z.string().min(1),
    label: z.string().nullable(),
    confidence: z.number().min(0).max(1).nullable(),
    source: z.enum(LABEL_SOURCES).nullable(),
    probs: z.record(z.string(), z.number()).optional(),
    extra: z
      .record(z.string(), z.union([z.string(), z.number(), z.null()]))
      .refine(
        (extra) => !Object.keys(extra).some((key) => RESERVED_EXTRA_KEYS.includes(key)),
        `extra keys may not be one of ${RESERVED_EXTRA_KEYS.join(', ')}`,
      )
      .optional(),
  })
  .refine((item) => (item.label === null) === (item.source === null), {
    message: 'label and source must both be set or both be null',
  });
export type ExportItem = z.infer<typeof exportItemSchema>;

export const splitRatiosSchema = z
  .object({
    train: z.number().min(0).max(1),
    val: z.number().min(0).max(1),
    test: z.number().min(0).max(1).optional(),
    seed: z.number().int().default(0),
  })
  .refine((s) => Math.abs(s.train + s.val + (s.test ?? 0) - 1) < 1e-6, {
    message: 'split ratios train + val + test must add up to 1',
  });
export type SplitRatios = z.infer<typeof splitRatiosSchema>;
export type SplitName = 'train' | 'val' | 'test';

/** Provenance the caller knows (model, prompts, run); the exporter adds counts, format and options. */
export const manifestInputSchema = z.object({
  app: z.object({ name: z.string(), version: z.string() }),
  createdAt: z.string().optional(),
  model: z.record(z.string(), z.unknown()).optional(),
  classSet: z
    .object({
      name: z.string(),
      classes: z.array(z.object({ name: z.string(), prompt: z.string() })),
      template: z.string(),
    })
    .optional(),
  method: z.string().optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  runId: z.number().int().nullable().optional(),
});
export type ManifestInput = z.infer<typeof manifestInputSchema>;

export const UNLABELED_FOLDER = '_unlabeled';

export const exportOptionsSchema = z
  .object({
    format: z.enum(EXPORT_FORMATS),
    outDir: z.string().refine((p) => path.isAbsolute(p), 'outDir must be absolute'),
    link: z.enum(LINK_MODES).default('copy'),
    split: splitRatiosSchema.optional(),
    /** 'folder' puts unlabeled images under `_unlabeled/` (never inside a split). */
    unlabeled: z.enum(UNLABELED_MODES).default('omit'),
    /** hf-imagefolder only: which metadata file to write. */
    hfMetadata: z.enum(['jsonl', 'csv']).default('jsonl'),
    /**
     * labelstudio only: Label Studio's LOCAL_FILES_DOCUMENT_ROOT. When given, task images are
     * `/data/local-files/?d=<path below that root>`; otherwise paths relative to tasks.json.
     */
    labelStudioDocumentRoot: z
      .string()
      .refine((p) => path.isAbsolute(p), 'labelStudioDocumentRoot must be absolute')
      .optional(),
    /**
     * The folder every source must lie in after its links are resolved (the collection): a source
     * swapped for a link out of it is refused, whatever the link mode, as the image routes refuse it.
     */
    sourceRoot: z
      .string()
      .refine((p) => path.isAbsolute(p), 'sourceRoot must be absolute')
      .optional(),
    /** Files placed at once; copies are I/O-bound, a few in flight keep the disk busy. */
    concurrency: z.number().int().min(1).max(64).default(4),
    manifest: manifestInputSchema,
  })
  .refine(
    ({ outDir, labelStudioDocumentRoot: root }) => {
      const relative = root === undefined ? '' : path.relative(root, outDir);
      return !relative.startsWith('..') && !path.isAbsolute(relative);
    },
    { message: 'outDir must be inside labelStudioDocumentRoot, or Label Studio cannot serve the images' },
  );
export type ExportOptions = z.input<typeof exportOptionsSchema>;
export type ResolvedExportOptions = z.output<typeof exportOptionsSchema>;

export interface ExportProgress {
  done: number;
  total: number;
  currentFile: string;
}

export interface ExportControl {
  onProgress?: (progress: ExportProgress) => void;
  signal?: AbortSignal;
}

/** One exported image: where it went, and which collection image it came from. */
export interface ManifestFile {
  path: string;
  sourceRelativePath: string;
}

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_KIND = 'metatpt-export';

export interface ExportManifest extends ManifestInput {
  kind: typeof MANIFEST_KIND;
  createdAt: string;
  format: ExportFormat;
  options: {
    link: LinkMode;
    unlabeled: 'omit' | 'folder';
    split: SplitRatios | null;
    hfMetadata?: 'jsonl' | 'csv';
    labelStudioDocumentRoot?: string;
  };
  counts: ExportCounts;
  /** Folder name → class name, for every class folder in the export. */
  classFolders: Record<string, string>;
  /** Decisions the exporter made that the user should know about (e.g. a default split). */
  notes: string[];
  files: ManifestFile[];
}

export interface ExportResult {
  outDir: string;
  manifest: ExportManifest;
}

/** A label read from outside: `relativePath` is relative to the imported folder or CSV. */
export interface ImportedLabel {
  relativePath: string;
  label: string;
  contentHash?: string;
  source?: LabelSource;
  confidence?: number | null;
}

export interface ImportResult {
  labels: ImportedLabel[];
  warnings: string[];
}
