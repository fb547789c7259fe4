// The thin adapter between the store and the format layer: a run's images, predictions and labels
// become ExportItems, a finished export is recorded in the store, and labels read from a file are
// stored as imported labels (apart from the expert's decisions).
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { isInside, toAbsolute } from '../library/files.js';
import type { ClassSet, GridItem, Store } from '../store/index.js';
import { exportDataset } from './export.js';
import { ClassNameMatcher } from '../../shared/domain/class-names.js';
import { matchImportedLabels, type CollectionImage } from './match.js';
import type {
  ExportControl,
  ExportItem,
  ExportOptions,
  ExportResult,
  ImportedLabel,
  ManifestInput,
} from './types.js';
import type { ExportInclude, ImportSummary } from '../../shared/domain/export.js';
import { InvalidRequestError } from '../store/errors.js';
import { quoted } from './named-list.js';

export interface RunSelection {
  runId: number;
  /**
   * The run's view: where a run layered on it has a result for an image, that result (the newest);
   * default false, the run alone.
   */
  layered?: boolean;
  /**
   * 'reviewed': only labels a person gave (the expert's, else an imported one); 'predictions': those,
   * and the model's label elsewhere.
   */
  include: ExportInclude;
  /** Predictions below this confidence are left unlabeled (the expert's labels always count). */
  minConfidence?: number;
}

export interface StoreExport {
  items: ExportItem[];
  /** What the manifest should say about where the labels came from (the caller adds `app`). */
  provenance: Omit<ManifestInput, 'app' | 'createdAt'>;
}

const GRID_PAGE = 1000;

function promptOf(classSet: ClassSet, className: string, prompt: string | null): string {
  return prompt ?? classSet.template.replaceAll('{}', className);
}

/**
 * One image's export item. Its label is the expert's where he gave one, else the imported label, else
 * (with include 'predictions') the model's prediction; a rejected prediction is never exported as a
 * label. Its confidence is the model's probability of the label where the label is the model's
 * prediction, null where a person gave it or it was imported (the model's probability of every class
 * is in `probs` either way).
 */
function toItem(
  row: GridItem,
  root: string,
  names: string[],
  probs: Float32Array | null,
  selection: RunSelection,
): ExportItem {
  let ordinal: number | null = null;
  let source: ExportItem['source'] = null;
  if (row.decision === 'label' && row.labelClass !== null) {
    ordinal = row.labelClass;
    source = row.labelSource;
  } else if (row.importedClass !== null) {
    ordinal = row.importedClass;
    source = 'imported';
  } else if (
    row.decision !== 'reject' &&
    selection.include === 'predictions' &&
    row.predicted !== null &&
    (row.confidence ?? 0) >= (selection.minConfidence ?? 0)
  ) {
    ordinal = row.predicted;
    source = 'predicted';
  }
  const nameOf = (o: number | null) => (o === null ? null : names[o]);
  return {
    sourcePath: toAbsolute(root, row.relPath),
    relativePath: row.relPath,
    label: nameOf(ordinal),
    confidence: source === 'predicted' && probs ? probs[ordinal!] : null,
    source,
    ...(probs ? { probs: Object.fromEntries(names.map((name, i) => [name, probs[i]])) } : {}),
    extra: {
      image_id: row.imageId,
      predicted_label: nameOf(row.predicted),
      zero_shot_label: nameOf(row.zeroShotLabel),
      entropy: row.entropy,
      decision: row.decision,
      run_id: row.runId,
    },
  };
}

/**
 * Every readable image of the run's collection, in path order, with its label under the run's class
 * set and the prediction of the run (or of its view, see RunSelection.layered).
 */
export function exportItemsFromStore(store: Store, selection: RunSelection): StoreExport {
  const run = store.runs.require(selection.runId);
  const collection = store.collections.require(run.collectionId);
  const classSet = store.classSets.require(run.classSetId);
  const model = store.models.get(run.modelId);
  const names = classSet.classes.map((c) => c.name);

  const items: ExportItem[] = [];
  for (let offset = 0; ; offset += GRID_PAGE) {
    const page = store.grid.query({
      collectionId: collection.id,
      runId: run.id,
      layered: selection.layered ?? false,
      statuses: ['ok'],
      sort: { key: 'path' },
      offset,
      limit: GRID_PAGE,
    });
    for (const row of page.items) {
      const probs =
        row.runId === null ? null : (store.results.prediction(row.runId, row.imageId)?.probs ?? null);
      items.push(toItem(row, collection.root, names, probs, selection));
    }
    if (offset + page.items.length >= page.total) break;
  }

  return {
    items,
    provenance: {
      model: model
        ? { id: model.id, name: model.name, dir: model.dir, config: model.config }
        : { id: run.modelId },
      classSet: {
        name: classSet.name,
        classes: classSet.classes.map((c) => ({
          name: c.name,
          prompt: promptOf(classSet, c.name, c.prompt),
        })),
        template: classSet.template,
      },
      method: run.method,
      params: {
        ...run.params,
        include: selection.include,
        minConfidence: selection.minConfidence ?? null,
        // The runs whose results the view layered on this one (each item's extra.run_id says whose).
        layers: selection.layered ? store.runs.layersOf(run.id).map((layer) => layer.id) : [],
      },
      runId: run.id,
    },
  };
}

/** The real path of `target`, or of its nearest existing ancestor joined with the rest. */
async function realPathSoFar(target: string): Promise<string> {
  const missing: string[] = [];
  for (let current = path.resolve(target); ; current = path.dirname(current)) {
    try {
      return path.join(await realpath(current), ...missing.reverse());
    } catch {
      if (path.dirname(current) === current) return path.resolve(target);
      missing.push(path.basename(current));
    }
  }
}

/**
 * Refuses an export folder inside any collection: the next scan would index the exported copies as
 * new images and double the collection (scans also skip folders holding our manifest, but an export
 * belongs outside the photos).
 */
export async function checkExportTarget(store: Store, outDir: string): Promise<void> {
  const target = await realPathSoFar(outDir);
  for (const collection of store.collections.list()) {
    if (isInside(collection.root, target)) {
      throw new InvalidRequestError(
        `${outDir}: inside collection ${collection.id} "${collection.name}" (${collection.root}); ` +
          'exporting there would add the copies to the collection at its next scan: choose a folder outside it',
      );
    }
  }
}

/** Exports a run and records the export (format, folder, manifest) in the store. */
export async function exportRun(
  store: Store,
  selection: RunSelection,
  options: Omit<ExportOptions, 'manifest'> & { app: ManifestInput['app'] },
  control: ExportControl = {},
): Promise<ExportResult> {
  await checkExportTarget(store, options.outDir);
  const { items, provenance } = exportItemsFromStore(store, selection);
  const { app, ...exportOptions } = options;
  const collection = store.collections.require(store.runs.require(selection.runId).collectionId);
  // Sources must stay inside the collection, unless the user chose to follow links out of it.
  const sourceRoot = collection.followLinks ? undefined : collection.root;
  const result = await exportDataset(
    items,
    { ...exportOptions, sourceRoot, manifest: { app, ...provenance } },
    control,
  );
  const run = store.runs.require(selection.runId);
  store.exports.record({
    collectionId: run.collectionId,
    runId: run.id,
    format: result.manifest.format,
    outDir: result.outDir,
    // The per-file list can be long; the export folder keeps it, the store keeps the summary.
    manifest: { ...result.manifest, files: undefined },
  });
  return result;
}

export interface StoreImportTarget {
  collectionId: number;
  classSetId: number;
}

/** Readable images of a collection, as matchImportedLabels wants them. */
function collectionImages(store: Store, collectionId: number): CollectionImage<number>[] {
  const images: CollectionImage<number>[] = [];
  for (let afterId = 0; ;) {
    const page = store.images.pageAfter(collectionId, afterId, GRID_PAGE);
    if (page.length === 0) return images;
    for (const image of page)
      images.push({ id: image.id, relativePath: image.relPath, contentHash: image.contentHash });
    afterId = page[page.length - 1].id;
  }
}

/**
 * Matches imported labels to the collection's images and stores them as the images' imported labels
 * under the class set, replacing imported labels they had; the expert's decisions are left as they
 * are (and the import is not part of their undo history). Labels naming a class the class set does
 * not have are counted, not added.
 */
export function importLabelsIntoStore(
  store: Store,
  target: StoreImportTarget,
  labels: readonly ImportedLabel[],
): ImportSummary {
  store.collections.require(target.collectionId);
  const classSet = store.classSets.require(target.classSetId);
  const classes = new ClassNameMatcher(classSet.classes.map((c) => c.name));
  const match = matchImportedLabels(labels, collectionImages(store, target.collectionId));

  const unknown = new Map<string, number>();
  const summary: ImportSummary = {
    applied: 0,
    replaced: 0,
    unchanged: 0,
    unknownClass: 0,
    unmatched: match.unmatched.length,
    unknownLabels: [],
    unmatchedFiles: match.unmatched.map((u) => ({ path: u.imported.relativePath, reason: u.reason })),
    warnings: match.warnings.filter((w) => !/matched no image$/.test(w)),
  };
  if (summary.unmatched > 0) {
    summary.warnings.push(
      `${summary.unmatched} imported files matched no image: ${quoted(summary.unmatchedFiles.map((u) => `${u.path} (${u.reason})`))}`,
    );
  }
  const known: { imageId: number; classOrdinal: number }[] = [];
  for (const { imageId, label } of match.matches) {
    const index = classes.match(label);
    if (index === undefined) {
      summary.unknownClass++;
      unknown.set(label, (unknown.get(label) ?? 0) + 1);
    } else known.push({ imageId, classOrdinal: classSet.classes[index].ordinal });
  }
  if (summary.unknownClass > 0) {
    summary.unknownLabels = [...unknown].map(([label, count]) => ({ label, count }));
    summary.warnings.push(
      `${summary.unknownClass} labels name a class that class set "${classSet.name}" does not have: ` +
        quoted(summary.unknownLabels.map((u) => `${u.label}`)) +
        ` (its classes: ${quoted(classSet.classes.map((c) => c.name))})`,
    );
  }
  const written = store.importedLabels.replace(target.classSetId, known);
  summary.applied = written.added + written.replaced;
  summary.replaced = written.replaced;
  summary.unchanged = written.unchanged;
  return summary;
}
