// The label files each format writes beside its images (labels.csv, metadata.jsonl, tasks.json, …).
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { LAYOUTS, type ExportPlan, type PlannedFile } from './layout.js';
import { groupBy } from './group-by.js';
import { TABLE_COLUMNS, UNLABELED_FOLDER, type ManifestInput, type ResolvedExportOptions } from './types.js';

export interface DataFile {
  /** Relative to the export root, `/` separators. */
  path: string;
  content: string;
}

type Row = Record<string, string | number | null>;
/** Hugging Face requires the image column to be called `file_name`. */
type PathColumn = 'path' | 'file_name';

function tableColumns(pathColumn: PathColumn): string[] {
  return [pathColumn, ...TABLE_COLUMNS.filter((column) => column !== 'path')];
}

/** The fields every tabular format shares; the path is relative to the file that lists it. */
function tableRow(file: PlannedFile, pathColumn: PathColumn, listedPath: string): Row {
  return {
    [pathColumn]: listedPath,
    label: file.item.label,
    confidence: file.item.confidence,
    source: file.item.source,
    split: file.split,
    source_path: file.item.relativePath,
  };
}

function sortedUnion(keyLists: Iterable<string[]>): string[] {
  const keys = new Set<string>();
  for (const list of keyLists) for (const key of list) keys.add(key);
  return [...keys].sort();
}

/** CSV: the shared columns, then the `extra` columns, then one `prob_<class>` column per class. */
function toCsv(pathColumn: PathColumn, rows: Row[], files: PlannedFile[]): string {
  const columns = tableColumns(pathColumn);
  const extraKeys = sortedUnion(files.map((f) => Object.keys(f.item.extra ?? {})));
  const probClasses = sortedUnion(files.map((f) => Object.keys(f.item.probs ?? {})));
  const records = rows.map((row, i) => {
    const { extra = {}, probs = {} } = files[i].item;
    return [
      ...columns.map((column) => row[column]),
      ...extraKeys.map((key) => extra[key] ?? null),
      ...probClasses.map((name) => probs[name] ?? null),
    ];
  });
  const header = [...columns, ...extraKeys, ...probClasses.map((name) => `prob_${name}`)];
  return stringify([header, ...records]);
}

/** JSONL: the shared fields, with `probs` and `extra` as nested objects. */
function toJsonl(rows: Row[], files: PlannedFile[]): string {
  return rows
    .map((row, i) => {
      const { probs, extra } = files[i].item;
      return JSON.stringify({ ...row, ...(probs ? { probs } : {}), ...(extra ? { extra } : {}) }) + '\n';
    })
    .join('');
}

function writeTable(
  kind: 'csv' | 'jsonl',
  pathColumn: PathColumn,
  rows: Row[],
  files: PlannedFile[],
): string {
  return kind === 'csv' ? toCsv(pathColumn, rows, files) : toJsonl(rows, files);
}

function labelsTable(plan: ExportPlan, kind: 'csv' | 'jsonl'): DataFile[] {
  const rows = plan.files.map((file) => tableRow(file, 'path', file.path));
  return [{ path: `labels.${kind}`, content: writeTable(kind, 'path', rows, plan.files) }];
}

/**
 * Hugging Face imagefolder: a metadata file in each split folder (the datasets library reads
 * metadata only from inside the split's directory), with `file_name` relative to that file.
 * Without a split, one metadata file at the root.
 */
function hfMetadata(plan: ExportPlan, kind: 'csv' | 'jsonl'): DataFile[] {
  const areas = new Set([...Object.values(LAYOUTS['hf-imagefolder'].splitFolders!), UNLABELED_FOLDER]);
  const byArea = groupBy(plan.files, (file) => {
    const top = file.path.split('/')[0];
    return plan.split && areas.has(top) ? top : '';
  });
  return [...byArea].map(([area, files]) => {
    const rows = files.map((file) => tableRow(file, 'file_name', path.posix.relative(area, file.path)));
    return {
      path: path.posix.join(area, `metadata.${kind}`),
      content: writeTable(kind, 'file_name', rows, files),
    };
  });
}

/** What Label Studio shows as the prediction's source. */
export function modelVersion(manifest: ManifestInput): string {
  const model = manifest.model?.name ?? manifest.model?.id;
  return (
    [typeof model === 'string' ? model : null, manifest.method].filter(Boolean).join('/') || manifest.app.name
  );
}

/** The result of a `<Choices name="choice" toName="image">` control: one class picked. */
function choiceResult(id: string, label: string) {
  return { id, from_name: 'choice', to_name: 'image', type: 'choices', value: { choices: [label] } };
}

const HUMAN_SOURCES = new Set(['human', 'accepted', 'imported']);

function argmax(probs: Record<string, number>): { label: string; score: number } | null {
  let best: { label: string; score: number } | null = null;
  for (const [label, score] of Object.entries(probs))
    if (!best || score > best.score) best = { label, score };
  return best;
}

/**
 * Label Studio tasks: decisions made by a person become annotations, the model's answer becomes
 * a prediction (with its score) so a team can continue reviewing there. Label Studio wants ids
 * that are unique per result; they are derived from the task index.
 */
function labelStudioTasks(plan: ExportPlan, options: ResolvedExportOptions): DataFile[] {
  const version = modelVersion(options.manifest);
  const root = labelStudioRoot(options);
  const tasks = plan.files.map((file, index) => {
    const { item } = file;
    const image =
      '/data/local-files/?d=' +
      path
        .relative(root, path.join(options.outDir, file.path))
        .split(path.sep)
        .map(encodeURIComponent)
        .join('/');
    const data = { image, source_path: item.relativePath, ...(file.split ? { split: file.split } : {}) };
    const annotations =
      item.label !== null && HUMAN_SOURCES.has(item.source!)
        ? [{ result: [choiceResult(`t${index}-annotation`, item.label)] }]
        : [];
    const predicted =
      item.source === 'predicted'
        ? { label: item.label!, score: item.confidence }
        : item.probs
          ? argmax(item.probs)
          : null;
    const predictions = predicted
      ? [
          {
            model_version: version,
            ...(predicted.score !== null ? { score: predicted.score } : {}),
            result: [choiceResult(`t${index}-prediction`, predicted.label)],
          },
        ]
      : [];
    return { data, annotations, predictions };
  });
  return [
    { path: 'tasks.json', content: JSON.stringify(tasks, null, 2) + '\n' },
    { path: LABEL_STUDIO_CONFIG, content: labelStudioConfig(plan, options) },
  ];
}

/**
 * Label Studio's LOCAL_FILES_DOCUMENT_ROOT that the task URLs are relative to: the one given, or the
 * folder holding the export, so the tasks load as they are once Label Studio serves that folder.
 */
export function labelStudioRoot(options: ResolvedExportOptions): string {
  return options.labelStudioDocumentRoot ?? path.dirname(options.outDir);
}

export const LABEL_STUDIO_CONFIG = 'label_config.xml';

const xmlAttribute = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** The labelling config the tasks are written for: an image and one choice among the classes. */
function labelStudioConfig(plan: ExportPlan, options: ResolvedExportOptions): string {
  const names = options.manifest.classSet?.classes.map((c) => c.name) ?? [
    ...new Set(plan.files.map((f) => f.item.label)),
  ];
  const choices = names
    .filter((name): name is string => name !== null)
    .map((name) => `    <Choice value="${xmlAttribute(name)}"/>`)
    .join('\n');
  return (
    '<View>\n  <Image name="image" value="$image"/>\n' +
    `  <Choices name="choice" toName="image" choice="single" showInLine="true">\n${choices}\n  </Choices>\n</View>\n`
  );
}

/** The label files of `options.format` for the planned images. */
export function dataFilesFor(plan: ExportPlan, options: ResolvedExportOptions): DataFile[] {
  switch (options.format) {
    case 'imagefolder':
    case 'yolo-cls':
      return [];
    case 'csv':
      return labelsTable(plan, 'csv');
    case 'jsonl':
      return labelsTable(plan, 'jsonl');
    case 'hf-imagefolder':
      return hfMetadata(plan, options.hfMetadata);
    case 'labelstudio':
      return labelStudioTasks(plan, options);
  }
}
