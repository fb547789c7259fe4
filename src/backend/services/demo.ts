// The demo that ships with the app: a folder of images (resources/demo) with its class list
// (classes.txt) and its ground truth (a CSV of filepath,label). Opening it adds the collection, its
// class set and the ground truth as imported labels, so that every view, and the evaluation of runs
// against those labels, works on first start.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { importLabelsIntoStore } from '../export/from-store.js';
import { importLabels } from '../export/index.js';
import type { ScanOptions } from '../library/indexer.js';
import { hashFile } from '../library/inspect.js';
import type { Store } from '../store/index.js';
import type { ClassSetsService } from './class-sets.js';
import type { CollectionsService } from './collections.js';
import type { DemoOpened } from '../../shared/domain/library.js';

/** The class set's name: the demo's classes are found again under it when the demo is re-added. */
export const DEMO_CLASS_SET = 'Demo shapes';
const CLASS_FILE = 'classes.txt';
/** Any CSV whose name says it holds the ground truth (ground-truth.csv, ground_truth_v2.csv, ...). */
const groundTruthName = /^ground[-_ ]?truth.*\.csv$/i;

/**
 * Adds the demo folder `demoDir` as a collection, creates its class set from classes.txt (or reuses
 * the one of that name with the same classes) and imports its ground truth as imported labels (apart
 * from the expert's decisions, which it leaves as they are). Throws when the folder has no class list.
 */
export async function openDemo(
  deps: { store: Store; collections: CollectionsService; classSets: ClassSetsService },
  demoDir: string,
  options: ScanOptions = {},
): Promise<DemoOpened> {
  const { store, collections, classSets } = deps;
  const { classes } = await classSets.readClassFile(join(demoDir, CLASS_FILE));
  const { collection, scan } = await collections.addFolder(demoDir, options);

  const names = JSON.stringify(classes.map((c) => c.name));
  const existing = store.classSets.getByName(DEMO_CLASS_SET);
  const classSet =
    existing && JSON.stringify(existing.classes.map((c) => c.name)) === names
      ? existing
      : classSets.create({ name: uniqueName(store, DEMO_CLASS_SET), classes });

  const file = (await readdir(demoDir)).sort().find((name) => groundTruthName.test(name));
  let groundTruth: DemoOpened['groundTruth'] = null;
  if (file) {
    const path = join(demoDir, file);
    const imported = await importLabels(path, 'csv', { hashFile, collectionRoot: collection.root });
    const summary = importLabelsIntoStore(
      store,
      { collectionId: collection.id, classSetId: classSet.id },
      imported.labels,
    );
    groundTruth = { ...summary, warnings: [...imported.warnings, ...summary.warnings], file: path };
  }
  return { collection: collections.get(collection.id), scan, classSet, groundTruth };
}

function uniqueName(store: Store, name: string): string {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${name} (${n})`;
    if (!store.classSets.getByName(candidate)) return candidate;
  }
}
