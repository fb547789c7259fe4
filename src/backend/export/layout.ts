// Where every image goes in an export: pure planning, no file system access.
import path from 'node:path';
import { assignClassFolders, folderKey, sanitizeFileName, withCollisionSuffix } from './sanitize.js';
import { groupBy } from './group-by.js';
import { stratifiedSplit } from './split.js';
import {
  MANIFEST_FILE,
  UNLABELED_FOLDER,
  type ExportFormat,
  type ExportItem,
  type ResolvedExportOptions,
  type SplitName,
  type SplitRatios,
} from './types.js';

interface FormatLayout {
  /** Folder (relative to the export root) that holds the class folders; '' for the root. */
  imagesRoot: string;
  /** Folder name per split when the split is part of the tree; null when it is only a column. */
  splitFolders: Record<SplitName, string> | null;
  /** The format's own files at the root, which a class folder must not shadow. */
  dataFiles: string[];
}

const SPLIT_TREE = { train: 'train', val: 'val', test: 'test' } as const;

export const LAYOUTS: Record<ExportFormat, FormatLayout> = {
  imagefolder: { imagesRoot: '', splitFolders: SPLIT_TREE, dataFiles: [] },
  'yolo-cls': { imagesRoot: '', splitFolders: SPLIT_TREE, dataFiles: [] },
  csv: { imagesRoot: 'images', splitFolders: null, dataFiles: ['labels.csv'] },
  jsonl: { imagesRoot: 'images', splitFolders: null, dataFiles: ['labels.jsonl'] },
  // Hugging Face calls the held-out split "validation".
  'hf-imagefolder': {
    imagesRoot: '',
    splitFolders: { train: 'train', val: 'validation', test: 'test' },
    dataFiles: ['metadata.jsonl', 'metadata.csv'],
  },
  labelstudio: { imagesRoot: 'images', splitFolders: null, dataFiles: ['tasks.json', 'label_config.xml'] },
};

/**
 * Hugging Face infers splits from any directory named like one, at any depth, so in that format
 * no class folder may carry such a name (labels come from the metadata file there, not folders).
 */
const HF_SPLIT_KEYWORDS = [
  'train',
  'training',
  'test',
  'testing',
  'eval',
  'evaluation',
  'validation',
  'valid',
  'val',
  'dev',
];

/** Ultralytics cannot train without a held-out split, so yolo-cls gets this one when none is asked for. */
export const DEFAULT_YOLO_SPLIT: SplitRatios = { train: 0.8, val: 0.2, seed: 0 };

export interface PlannedFile {
  item: ExportItem;
  split: SplitName | null;
  /** Destination relative to the export root, with `/` separators. */
  path: string;
}

export interface ExportPlan {
  files: PlannedFile[];
  /** Class name → folder name. */
  classFolders: Map<string, string>;
  split: SplitRatios | null;
  omittedUnlabeled: number;
  notes: string[];
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Gives every file a unique name inside its folder, deterministically in order of relative path. */
function resolveFileNames(
  entries: { item: ExportItem; split: SplitName | null; folder: string }[],
): PlannedFile[] {
  const byFolder = groupBy(entries, (entry) => folderKey(entry.folder));
  const planned: PlannedFile[] = [];
  for (const group of byFolder.values()) {
    group.sort((a, b) => byCodePoint(a.item.relativePath, b.item.relativePath));
    const taken = new Set<string>();
    for (const entry of group) {
      const base = sanitizeFileName(path.posix.basename(entry.item.relativePath.replaceAll('\\', '/')));
      let name = base;
      for (let n = 2; taken.has(folderKey(name)); n++) name = withCollisionSuffix(base, n, true);
      taken.add(folderKey(name));
      planned.push({ item: entry.item, split: entry.split, path: path.posix.join(entry.folder, name) });
    }
  }
  return planned.sort((a, b) => byCodePoint(a.path, b.path));
}

/**
 * What the split actually produced, per held-out split asked for: how many images went there, and
 * which classes got none (a class with one image stays in train), since Ultralytics needs every
 * class in val. The notes state outcomes, not the request.
 */
function splitOutcomeNotes(
  keysByClass: Map<string, string[]>,
  assignment: Map<string, SplitName>,
  split: SplitRatios,
  defaulted: boolean,
): string[] {
  const asked = `train ${split.train} / val ${split.val}${split.test ? ` / test ${split.test}` : ''} (seed ${split.seed})`;
  const notes = [
    defaulted
      ? `yolo-cls needs a held-out split and none was given: asked for ${asked}`
      : `split asked: ${asked}`,
  ];
  const counts: Record<SplitName, number> = { train: 0, val: 0, test: 0 };
  for (const name of assignment.values()) counts[name]++;
  notes.push(`split written: train ${counts.train}, val ${counts.val}, test ${counts.test} images`);
  for (const name of ['val', 'test'] as const) {
    if ((name === 'test' ? (split.test ?? 0) : split[name]) === 0) continue;
    const missing = [...keysByClass]
      .filter(([, keys]) => !keys.some((key) => assignment.get(key) === name))
      .map(([label, keys]) => `"${label}" (${keys.length} image${keys.length === 1 ? '' : 's'})`);
    if (missing.length === 0) continue;
    notes.push(
      counts[name] === 0
        ? `no ${name}/ images were written: every class has too few images to hold one out (${missing.join(', ')}); they are all in train`
        : `${missing.length} classes have no ${name} image, too few to hold one out; they are only in train: ${missing.join(', ')}`,
    );
  }
  return notes;
}

export function planExport(items: readonly ExportItem[], options: ResolvedExportOptions): ExportPlan {
  const layout = LAYOUTS[options.format];
  const notes: string[] = [];
  let split = options.split ?? null;
  const defaultSplit = options.format === 'yolo-cls' && !split;
  if (defaultSplit) split = DEFAULT_YOLO_SPLIT;
  if (options.format === 'labelstudio') {
    const root = options.labelStudioDocumentRoot ?? path.dirname(options.outDir);
    notes.push(
      `to open in Label Studio: start it with LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and ` +
        `LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=${root}, add a Local Storage for ${options.outDir}, ` +
        'paste label_config.xml as the labeling config and import tasks.json',
    );
  }
  if (split && !layout.splitFolders) {
    notes.push(`the split is recorded in the "split" field; ${options.format} keeps images in one tree`);
  }

  const labeled = items.filter((item) => item.label !== null);
  const unlabeled = items.filter((item) => item.label === null);
  const reserved = [UNLABELED_FOLDER, MANIFEST_FILE, ...layout.dataFiles];
  if (options.format === 'hf-imagefolder') reserved.push(...HF_SPLIT_KEYWORDS);
  const classFolders = assignClassFolders(
    labeled.map((item) => item.label!),
    reserved,
  );

  let splitOf = (_item: ExportItem): SplitName | null => null;
  if (split) {
    const byClass = groupBy(labeled, (item) => item.label!);
    const keysByClass = new Map(
      [...byClass].map(([label, group]) => [label, group.map((item) => item.relativePath)]),
    );
    const assignment = stratifiedSplit(keysByClass, split);
    splitOf = (item) => assignment.get(item.relativePath) ?? null;
    notes.push(...splitOutcomeNotes(keysByClass, assignment, split, defaultSplit));
  }

  const entries = labeled.map((item) => {
    const itemSplit = splitOf(item);
    const splitFolder = itemSplit && layout.splitFolders ? layout.splitFolders[itemSplit] : '';
    const folder = path.posix.join(layout.imagesRoot, splitFolder, classFolders.get(item.label!)!);
    return { item, split: itemSplit, folder };
  });
  if (options.unlabeled === 'folder') {
    if (layout.imagesRoot === '' && !(split && layout.splitFolders)) {
      notes.push(
        `unlabeled images are in ${UNLABELED_FOLDER}/ beside the class folders: remove it before training`,
      );
    }
    const folder = path.posix.join(layout.imagesRoot, UNLABELED_FOLDER);
    entries.push(...unlabeled.map((item) => ({ item, split: null, folder })));
  }

  return {
    files: resolveFileNames(entries),
    classFolders,
    split,
    omittedUnlabeled: options.unlabeled === 'omit' ? unlabeled.length : 0,
    notes,
  };
}
