// Reading labels made elsewhere (a class-folder tree, a CSV) or by an earlier export of ours.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { isImageName } from '../../shared/domain/image-types.js';
import { readTextFile, sniffDelimiter } from '../text-file.js';
import {
  EXPORT_FORMATS,
  LABEL_SOURCES,
  MANIFEST_FILE,
  MANIFEST_KIND,
  UNLABELED_FOLDER,
  type ExportFormat,
  type ImportResult,
  type ImportedLabel,
  type LabelSource,
} from './types.js';
import { InvalidRequestError } from '../store/errors.js';
import { isFile } from '../library/files.js';
import { quoted } from './named-list.js';

/** Folder names that mean "a split" in the trees people hand around (torchvision, Ultralytics, HF). */
const SPLIT_FOLDER_NAMES = new Set([
  'train',
  'training',
  'val',
  'valid',
  'validation',
  'dev',
  'test',
  'testing',
  'eval',
]);

const CSV_PATH_COLUMNS = ['path', 'filepath', 'file_path', 'file_name', 'filename', 'image', 'image_path'];
// `choice`/`choices`: Label Studio's CSV export names the column after the <Choices> control.
const CSV_LABEL_COLUMNS = ['label', 'class', 'category', 'choice', 'choices'];

export interface ImportDependencies {
  /** Content hash of an imported image, in the same form the collection stores; enables hash matching. */
  hashFile?: (absolutePath: string) => Promise<string>;
  /**
   * The folder of the collection the labels go to: a CSV's relative path that is not beside the CSV
   * is looked for there (CSVs are often written relative to the image folder, not to themselves).
   */
  collectionRoot?: string;
}

function toPosix(relativePath: string): string {
  return relativePath.replaceAll('\\', '/').replace(/^\.\//, '');
}

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

/**
 * Image files below `dir` (relative, `/`-separated), skipping hidden entries. Unlike the library's
 * collection walk, symlinked files count wherever they point: a symlink export is made of them.
 */
async function listImages(root: string, dir = ''): Promise<{ images: string[]; others: number }> {
  const entries = await fs.readdir(path.join(root, dir), { withFileTypes: true });
  const images: string[] = [];
  let others = 0;
  for (const entry of entries) {
    if (isHidden(entry.name)) continue;
    const relative = dir ? `${dir}/${entry.name}` : entry.name;
    // Folder symlinks are not followed (they can loop); file symlinks are, as symlink exports use them.
    const isFile =
      entry.isFile() || (entry.isSymbolicLink() && (await fs.stat(path.join(root, relative))).isFile());
    if (entry.isDirectory()) {
      const below = await listImages(root, relative);
      images.push(...below.images);
      others += below.others;
    } else if (isFile && isImageName(entry.name)) {
      images.push(relative);
    } else {
      others++;
    }
  }
  return { images: images.sort(), others };
}

/** Whether a tree is `root/<split>/<class>/...`: every top-level folder is named like a split. */
function looksLikeSplitTree(images: string[]): boolean {
  const topFolders = new Set(images.filter((p) => p.includes('/')).map((p) => p.split('/')[0]));
  topFolders.delete(UNLABELED_FOLDER);
  return topFolders.size > 0 && [...topFolders].every((name) => SPLIT_FOLDER_NAMES.has(name.toLowerCase()));
}

/**
 * A class-folder tree: `root/<class>/...` or `root/<split>/<class>/...` (guessed when `splitTree`
 * is not given). Deeper folders belong to their class; `_unlabeled/` is skipped.
 */
async function importFolderTree(root: string, splitTree?: boolean): Promise<ImportResult> {
  const warnings: string[] = [];
  const { images, others } = await listImages(root);
  // Our own manifest is expected at the root of an export; anything else that is not an image is news.
  const strangers = others - ((await exists(path.join(root, MANIFEST_FILE))) ? 1 : 0);
  if (strangers > 0) warnings.push(`${root}: skipped ${strangers} entries that are not images`);
  const classDepth = (splitTree ?? looksLikeSplitTree(images)) ? 1 : 0;

  const labels: ImportedLabel[] = [];
  let unfiled = 0;
  for (const relativePath of images) {
    const parts = relativePath.split('/');
    if (parts.includes(UNLABELED_FOLDER)) continue;
    if (parts.length <= classDepth + 1) unfiled++;
    else labels.push({ relativePath, label: parts[classDepth] });
  }
  if (unfiled > 0) warnings.push(`${root}: skipped ${unfiled} images that are not inside a class folder`);
  return { labels, warnings };
}

/**
 * Rows of a CSV (header row; UTF-8 with or without BOM, or UTF-16; delimiter sniffed) or JSONL file,
 * as plain objects. Text in another encoding is refused with the byte offset (see readTextFile).
 */
async function readTable(file: string): Promise<Record<string, unknown>[]> {
  const text = await readTextFile(file, 'labels file');
  if (file.endsWith('.jsonl')) {
    return text.split('\n').flatMap((line, index) => {
      if (line.trim() === '') return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch (error) {
        throw new InvalidRequestError(`${file}:${index + 1}: not valid JSON: ${(error as Error).message}`);
      }
    });
  }
  try {
    return parse(text, {
      // Header names are trimmed; values are not, a class name may start or end with a space.
      columns: (header: string[]) => header.map((name) => name.trim()),
      delimiter: sniffDelimiter(text),
      skip_empty_lines: true,
    }) as Record<string, string>[];
  } catch (error) {
    throw new InvalidRequestError(`${file}: not a valid CSV: ${(error as Error).message}`);
  }
}

function findColumn(columns: string[], candidates: string[]): string | undefined {
  return candidates.map((c) => columns.find((column) => column.toLowerCase() === c)).find(Boolean);
}

/** A CSV with a path column and a label column (names matched case-insensitively). */
async function importCsv(file: string): Promise<ImportResult> {
  const rows = await readTable(file);
  const columns = Object.keys(rows[0] ?? {});
  const pathColumn = findColumn(columns, CSV_PATH_COLUMNS);
  const labelColumn = findColumn(columns, CSV_LABEL_COLUMNS);
  if (!pathColumn || !labelColumn) {
    throw new InvalidRequestError(
      `${file}: needs a path column (${CSV_PATH_COLUMNS.join('/')}) and a label column ` +
        `(${CSV_LABEL_COLUMNS.join('/')}); found ${columns.join(', ') || 'no columns'}`,
    );
  }
  const labels: ImportedLabel[] = [];
  let missing = 0;
  for (const row of rows) {
    const relativePath = labelStudioImagePath(String(row[pathColumn] ?? ''));
    const label = String(row[labelColumn] ?? '');
    if (relativePath === '' || label === '') missing++;
    else labels.push({ relativePath: toPosix(relativePath), label });
  }
  const warnings = missing > 0 ? [`${file}: skipped ${missing} rows without a path or a label`] : [];
  return { labels, warnings };
}

/**
 * Hashes each listed image (for matching by content). A relative path is looked for under each of
 * `bases` in turn and the first that holds the file is used. Warns, naming the files, about those
 * found nowhere (with every place tried) or unreadable, and about those found under two bases with
 * different content (saying which was used).
 */
async function addContentHashes(
  source: string,
  bases: readonly string[],
  result: ImportResult,
  hashFile: ImportDependencies['hashFile'],
) {
  if (!hashFile) return result;
  const unreadable: string[] = [];
  const ambiguous: string[] = [];
  for (const label of result.labels) {
    const tried = [...new Set(bases.map((base) => path.resolve(base, label.relativePath)))];
    const present: string[] = [];
    for (const file of tried) if (await isFile(file)) present.push(file);
    if (present.length === 0) {
      unreadable.push(`${label.relativePath} (not found: tried ${tried.join(' and ')})`);
      continue;
    }
    const [used, other] = present;
    try {
      label.contentHash = await hashFile(used);
      if (other !== undefined && (await hashFile(other).catch(() => null)) !== label.contentHash)
        ambiguous.push(`${label.relativePath}: used ${used}, not ${other}`);
    } catch (cause) {
      unreadable.push(`${label.relativePath} (${used}: ${cause instanceof Error ? cause.message : cause})`);
    }
  }
  if (unreadable.length > 0)
    result.warnings.push(
      `${source}: could not read ${unreadable.length} listed images to hash them: ${quoted(unreadable)}`,
    );
  if (ambiguous.length > 0)
    result.warnings.push(
      `${source}: ${ambiguous.length} listed paths name different files beside it and in the collection ` +
        `folder; the ones beside it were used: ${quoted(ambiguous)}`,
    );
  return result;
}

/**
 * Labels from a class-folder tree (`path` is its root) or a CSV file. Relative paths are relative
 * to the tree's root, or to the CSV's folder and failing that to `deps.collectionRoot`; match them to
 * a collection with matchImportedLabels.
 */
export async function importLabels(
  source: string,
  format: 'imagefolder' | 'csv',
  deps: ImportDependencies = {},
): Promise<ImportResult> {
  const stat = await fs.stat(source).catch(() => null);
  if (format === 'imagefolder') {
    if (!stat?.isDirectory())
      throw new InvalidRequestError(
        `${source}: not a folder (a class-folder tree is a folder of class folders)`,
      );
    return addContentHashes(source, [source], await importFolderTree(source), deps.hashFile);
  }
  if (!stat) throw new InvalidRequestError(`${source}: no such CSV file`);
  if (!stat.isFile()) throw new InvalidRequestError(`${source}: not a CSV file (it is not a regular file)`);
  const bases = [path.dirname(source), ...(deps.collectionRoot ? [deps.collectionRoot] : [])];
  return addContentHashes(source, bases, await importCsv(source), deps.hashFile);
}

const manifestSchema = z.object({
  kind: z.literal(MANIFEST_KIND),
  format: z.enum(EXPORT_FORMATS),
  options: z.object({ split: z.looseObject({}).nullable() }),
  classFolders: z.record(z.string(), z.string()),
  files: z.array(z.object({ path: z.string(), sourceRelativePath: z.string() })),
});
type ReadManifest = z.infer<typeof manifestSchema>;

async function readManifest(dir: string): Promise<ReadManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw new InvalidRequestError(`${file}: cannot read the export's manifest: ${(error as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success)
    throw new InvalidRequestError(`${file}: not a manifest of this app: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function asSource(value: unknown): LabelSource | undefined {
  return LABEL_SOURCES.find((source) => source === value);
}

function asConfidence(value: unknown): number | null {
  const number = typeof value === 'string' && value !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : null;
}

/** Rows of our labels.csv / labels.jsonl / metadata.*: the original path is in `source_path`. */
async function labelsFromTable(file: string, pathColumn: 'path' | 'file_name'): Promise<ImportedLabel[]> {
  const rows = await readTable(file);
  return rows.flatMap((row) => {
    const label = row.label;
    if (typeof label !== 'string' || label === '') return [];
    const relativePath = String(row.source_path || row[pathColumn]);
    return [{ relativePath, label, source: asSource(row.source), confidence: asConfidence(row.confidence) }];
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

/**
 * The path of a Label Studio image reference: `/data/local-files/?d=<path>` gives the path below the
 * document root; `/data/upload/<project>/<8 hex>-<name>` (an uploaded file, renamed by Label Studio)
 * gives the original file name; anything else (a URL, a path) is kept.
 */
export function labelStudioImagePath(reference: string): string {
  const local = /[?&]d=([^&]*)/.exec(reference);
  if (reference.includes('/data/local-files/') && local) return decodeURIComponent(local[1]);
  const upload = /\/data\/upload\/\d+\/(?:[0-9a-f]{8}-)?([^/]+)$/.exec(reference);
  if (upload) return decodeURIComponent(upload[1]);
  return reference;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** The first class chosen in a list of Label Studio results (`value.choices[0]` of any result). */
function firstChoice(results: unknown): string | undefined {
  for (const result of asArray(results)) {
    const choices = isObject(result) && isObject(result.value) ? result.value.choices : undefined;
    const first = asArray(choices)[0];
    if (typeof first === 'string') return first;
  }
  return undefined;
}

/**
 * One task of a Label Studio JSON export (full: `data`, `annotations`, `predictions`) or JSON_MIN
 * (flat: `image` and one field per control, a string or `{choices: [...]}`). Only the fields used are
 * read: other fields, and predictions given as integer ids (as Label Studio writes them), are ignored.
 */
function labelOfTask(task: unknown, where: string): ImportedLabel | string | null {
  if (!isObject(task)) return `${where}: not an object`;
  if (isObject(task.data)) {
    const reference = task.data.source_path ?? task.data.image;
    if (typeof reference !== 'string') return `${where}: data.image is not a string`;
    const relativePath =
      typeof task.data.source_path === 'string' ? reference : labelStudioImagePath(reference);
    const annotated = asArray(task.annotations)
      .filter((a) => isObject(a) && a.was_cancelled !== true)
      .map((a) => firstChoice((a as Json).result))
      .find((choice) => choice !== undefined);
    if (annotated !== undefined) return { relativePath, label: annotated };
    const prediction = asArray(task.predictions).find(
      (p) => isObject(p) && firstChoice(p.result) !== undefined,
    );
    if (!isObject(prediction)) return null; // a task nobody labelled: nothing to import
    const score = typeof prediction.score === 'number' ? prediction.score : null;
    return { relativePath, label: firstChoice(prediction.result)!, source: 'predicted', confidence: score };
  }
  if (typeof task.image !== 'string') return `${where}: neither "data" (JSON export) nor "image" (JSON_MIN)`;
  for (const [key, value] of Object.entries(task)) {
    if (key === 'image') continue;
    const label =
      typeof value === 'string' && CSV_LABEL_COLUMNS.includes(key) ? value : firstChoice([{ value }]);
    if (label !== undefined) return { relativePath: labelStudioImagePath(task.image), label };
  }
  return null;
}

/** Labels of a Label Studio JSON or JSON_MIN export; malformed tasks are named in a warning. */
async function labelsFromLabelStudio(file: string): Promise<ImportResult> {
  let tasks: unknown;
  try {
    tasks = JSON.parse(await readTextFile(file, 'Label Studio export'));
  } catch (error) {
    throw new InvalidRequestError(`${file}: not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(tasks))
    throw new InvalidRequestError(`${file}: not a Label Studio export (a JSON list of tasks)`);
  const labels: ImportedLabel[] = [];
  const skipped: string[] = [];
  tasks.forEach((task, index) => {
    const label = labelOfTask(task, `task ${index + 1}`);
    if (typeof label === 'string') skipped.push(label);
    else if (label) labels.push(label);
  });
  const warnings =
    skipped.length > 0
      ? [`${file}: ${skipped.length} malformed tasks were skipped: ${skipped.slice(0, 5).join('; ')}`]
      : [];
  return { labels, warnings };
}

/**
 * Labels from a Label Studio export file as Label Studio writes it: JSON, JSON_MIN or CSV (by the
 * extension; the CSV's label column is named after the <Choices> control, e.g. `choice`).
 */
export async function importLabelStudioFile(file: string): Promise<ImportResult> {
  if (path.extname(file).toLowerCase() === '.csv') return importCsv(file);
  return labelsFromLabelStudio(file);
}

/** Hugging Face metadata files: one at the root, or one per split folder. */
async function hfMetadataFiles(dir: string): Promise<{ file: string; area: string }[]> {
  const areas = [
    '',
    ...(await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name),
  ];
  const found: { file: string; area: string }[] = [];
  for (const area of areas) {
    for (const name of ['metadata.jsonl', 'metadata.csv']) {
      const file = path.join(dir, area, name);
      if (await exists(file)) found.push({ file, area });
    }
  }
  return found;
}

/** Labels as written by `format`, with the original paths (via `source_path` or the manifest). */
async function labelsOfFormat(
  dir: string,
  format: ExportFormat,
  manifest: ReadManifest,
): Promise<ImportResult> {
  switch (format) {
    case 'imagefolder':
    case 'yolo-cls': {
      const tree = await importFolderTree(dir, manifest.options.split !== null);
      const sourceOf = new Map(manifest.files.map((f) => [f.path, f.sourceRelativePath]));
      const labels = tree.labels.map((l) => ({
        relativePath: sourceOf.get(l.relativePath) ?? l.relativePath,
        label: manifest.classFolders[l.label] ?? l.label,
      }));
      return { labels, warnings: tree.warnings };
    }
    case 'csv':
      return { labels: await labelsFromTable(path.join(dir, 'labels.csv'), 'path'), warnings: [] };
    case 'jsonl':
      return { labels: await labelsFromTable(path.join(dir, 'labels.jsonl'), 'path'), warnings: [] };
    case 'hf-imagefolder': {
      const labels: ImportedLabel[] = [];
      for (const { file } of await hfMetadataFiles(dir))
        labels.push(...(await labelsFromTable(file, 'file_name')));
      return { labels, warnings: [] };
    }
    case 'labelstudio':
      return labelsFromLabelStudio(path.join(dir, 'tasks.json'));
  }
}

/**
 * Reads one of our exports back, whatever its format, using its manifest. Paths are the original
 * collection-relative paths and class names the original names, not the sanitised folder names.
 * In folder formats the folder an image sits in is its label, so moving images between class
 * folders after the export counts; an image renamed there keeps its export path (match by name).
 */
export async function importFromExport(dir: string): Promise<ImportResult> {
  // A file is what another tool wrote: Label Studio's export of the tasks we gave it, say.
  if ((await fs.stat(dir).catch(() => null))?.isFile()) return importLabelStudioFile(dir);
  const manifest = await readManifest(dir);
  const result = await labelsOfFormat(dir, manifest.format, manifest);
  const sourceOf = new Map(manifest.files.map((f) => [f.path, f.sourceRelativePath]));
  const known = new Set(manifest.files.map((f) => f.sourceRelativePath));
  const labels = result.labels.map((l) => ({
    ...l,
    relativePath: known.has(l.relativePath)
      ? l.relativePath
      : (sourceOf.get(l.relativePath) ?? l.relativePath),
  }));
  const missing = [];
  for (const file of manifest.files) if (!(await exists(path.join(dir, file.path)))) missing.push(file.path);
  if (missing.length > 0)
    result.warnings.push(`${dir}: ${missing.length} exported images are missing, e.g. ${missing[0]}`);
  return { labels, warnings: result.warnings };
}
