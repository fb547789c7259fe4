// `metatpt export`: writes a run's labeled images as a dataset (class folders, YOLO, CSV, JSONL,
// Hugging Face imagefolder or Label Studio tasks).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../commands.js';
import { exportRun } from '../../backend/export/from-store.js';
import {
  EXPORT_FORMATS,
  LINK_MODES,
  type ExportProgress,
  type SplitRatios,
} from '../../backend/export/index.js';
import { openStore } from '../../backend/store/index.js';
import { UsageError, oneOf, parseId, requireOption, withUsage } from '../args.js';

const USAGE = `usage: metatpt export --db FILE --run ID --format FORMAT --out DIR [options]

  --format F            ${EXPORT_FORMATS.join(' | ')}
  --include WHAT        predictions (default: the expert's labels, the model's elsewhere) | reviewed
  --min-confidence X    leave predictions below X unlabeled
  --split T,V[,E]       train/val/test ratios, e.g. 0.8,0.1,0.1 (yolo-cls defaults to 0.8,0.2)
  --seed S              seed of the split (default 0)
  --link MODE           ${LINK_MODES.join(' | ')} (default copy)
  --unlabeled MODE      omit (default) | folder (put them in _unlabeled/)
  --hf-metadata KIND    hf-imagefolder: jsonl (default) | csv
  --ls-root DIR         labelstudio: Label Studio's LOCAL_FILES_DOCUMENT_ROOT, to link images as local files
  --json                print the result as JSON`;

function parseSplit(ratios: string | undefined, seed: string | undefined): SplitRatios | undefined {
  if (ratios === undefined) {
    if (seed !== undefined) throw new UsageError('--seed needs --split');
    return undefined;
  }
  const parts = ratios.split(',').map(Number);
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !Number.isFinite(p) || p < 0)) {
    throw new UsageError(`--split takes two or three ratios like 0.8,0.1,0.1, not "${ratios}"`);
  }
  const seedNumber = Number(seed ?? 0);
  if (!Number.isInteger(seedNumber)) throw new UsageError(`--seed must be a whole number, not "${seed}"`);
  const [train, val, test] = parts;
  return { train, val, ...(test !== undefined ? { test } : {}), seed: seedNumber };
}

/** The app's name and version for the manifest, from package.json. */
export async function appInfo(): Promise<{ name: string; version: string }> {
  const file = new URL('../../../package.json', import.meta.url);
  const { version } = JSON.parse(await readFile(file, 'utf8')) as { version: string };
  return { name: 'MetaTPT Workbench', version };
}

/** Writes a progress line to stderr at most every `intervalMs`, and always the last one. */
function progressPrinter(intervalMs = 500): (p: ExportProgress) => void {
  let last = 0;
  return ({ done, total }) => {
    const now = Date.now();
    if (done < total && now - last < intervalMs) return;
    last = now;
    process.stderr.write(`\rexporting ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      db: { type: 'string' },
      run: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      include: { type: 'string', default: 'predictions' },
      'min-confidence': { type: 'string' },
      split: { type: 'string' },
      seed: { type: 'string' },
      link: { type: 'string', default: 'copy' },
      unlabeled: { type: 'string', default: 'omit' },
      'hf-metadata': { type: 'string', default: 'jsonl' },
      'ls-root': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const minConfidence = values['min-confidence'] === undefined ? undefined : Number(values['min-confidence']);
  if (minConfidence !== undefined && !(minConfidence >= 0 && minConfidence <= 1)) {
    throw new UsageError(`--min-confidence must be between 0 and 1, not "${values['min-confidence']}"`);
  }
  const selection = {
    runId: parseId(values.run, 'run'),
    include: oneOf(values.include, ['reviewed', 'predictions'] as const, 'include'),
    minConfidence,
  };
  const options = {
    app: await appInfo(),
    format: oneOf(requireOption(values.format, 'format'), EXPORT_FORMATS, 'format'),
    outDir: path.resolve(requireOption(values.out, 'out')),
    link: oneOf(values.link, LINK_MODES, 'link'),
    unlabeled: oneOf(values.unlabeled, ['omit', 'folder'] as const, 'unlabeled'),
    split: parseSplit(values.split, values.seed),
    hfMetadata: oneOf(values['hf-metadata'], ['jsonl', 'csv'] as const, 'hf-metadata'),
    labelStudioDocumentRoot: values['ls-root'] === undefined ? undefined : path.resolve(values['ls-root']),
  };

  const store = openStore(requireOption(values.db, 'db'));
  // Ctrl-C cancels the export cleanly: the partial folder is removed.
  const controller = new AbortController();
  const cancel = () => controller.abort();
  process.once('SIGINT', cancel);
  try {
    const { outDir, manifest } = await exportRun(store, selection, options, {
      signal: controller.signal,
      onProgress: values.json ? undefined : progressPrinter(),
    });
    const { counts, notes, format } = manifest;
    if (values.json) {
      process.stdout.write(
        JSON.stringify({ outDir, format, counts, notes, classFolders: manifest.classFolders }) + '\n',
      );
    } else {
      process.stdout.write(
        `exported ${manifest.files.length} images as ${format} to ${outDir}\n` +
          `  reviewed ${counts.reviewed}, accepted ${counts.accepted}, imported ${counts.imported}, ` +
          `predicted ${counts.predicted}, unlabeled ${counts.unlabeled} (left out ${counts.omittedUnlabeled})\n` +
          notes.map((note) => `  note: ${note}\n`).join(''),
      );
    }
    return 0;
  } finally {
    process.off('SIGINT', cancel);
    store.close();
  }
}

export const exportCommand: Command = {
  name: 'export',
  summary: 'export a run as a labeled dataset (class folders, YOLO, CSV, JSONL, HF, Label Studio)',
  run: (args) => withUsage(USAGE, () => run(args)),
};
