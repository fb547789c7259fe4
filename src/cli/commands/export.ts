// `metatpt export`: writes a run's labeled images as a dataset (class folders, YOLO, CSV, JSONL,
// Hugging Face imagefolder or Label Studio tasks).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { exportRun } from '../../backend/export/from-store.js';
import { type ExportProgress, type SplitRatios } from '../../backend/export/index.js';
import { EXPORT_FORMATS, EXPORT_INCLUDES, LINK_MODES, UNLABELED_MODES } from '../../shared/domain/export.js';
import { openStore } from '../../backend/store/index.js';
import { oneOf, parseId, requireOption } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import type { CommandIo } from '../format.js';

interface ExportOptions {
  db?: string;
  run?: string;
  format?: string;
  out?: string;
  include: string;
  minConfidence?: string;
  split?: string;
  seed?: string;
  link: string;
  unlabeled: string;
  hfMetadata: string;
  lsRoot?: string;
  json?: boolean;
}

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
function progressPrinter(io: CommandIo, intervalMs = 500): (p: ExportProgress) => void {
  let last = 0;
  return ({ done, total }) => {
    const now = Date.now();
    if (done < total && now - last < intervalMs) return;
    last = now;
    io.stderr(`\rexporting ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

async function run(values: ExportOptions, _args: string[], io: CommandIo): Promise<number> {
  const minConfidence = values.minConfidence === undefined ? undefined : Number(values.minConfidence);
  if (minConfidence !== undefined && !(minConfidence >= 0 && minConfidence <= 1)) {
    throw new UsageError(`--min-confidence must be between 0 and 1, not "${values.minConfidence}"`);
  }
  const selection = {
    runId: parseId(values.run, 'run'),
    include: oneOf(values.include, EXPORT_INCLUDES, 'include'),
    minConfidence,
  };
  const options = {
    app: await appInfo(),
    format: oneOf(requireOption(values.format, 'format'), EXPORT_FORMATS, 'format'),
    outDir: path.resolve(requireOption(values.out, 'out')),
    link: oneOf(values.link, LINK_MODES, 'link'),
    unlabeled: oneOf(values.unlabeled, UNLABELED_MODES, 'unlabeled'),
    split: parseSplit(values.split, values.seed),
    hfMetadata: oneOf(values.hfMetadata, ['jsonl', 'csv'] as const, 'hf-metadata'),
    labelStudioDocumentRoot: values.lsRoot === undefined ? undefined : path.resolve(values.lsRoot),
  };

  const store = openStore(requireOption(values.db, 'db'));
  try {
    // Ctrl-C cancels the export cleanly: the partial folder is removed.
    const { outDir, manifest } = await exportRun(store, selection, options, {
      signal: io.interrupt,
      onProgress: values.json ? undefined : progressPrinter(io),
    });
    const { counts, notes, format } = manifest;
    if (values.json) {
      io.stdout(
        JSON.stringify({ outDir, format, counts, notes, classFolders: manifest.classFolders }) + '\n',
      );
    } else {
      io.stdout(
        `exported ${manifest.files.length} images as ${format} to ${outDir}\n` +
          `  reviewed ${counts.reviewed}, accepted ${counts.accepted}, imported ${counts.imported}, ` +
          `predicted ${counts.predicted}, unlabeled ${counts.unlabeled} (left out ${counts.omittedUnlabeled})\n` +
          notes.map((note) => `  note: ${note}\n`).join(''),
      );
    }
    return 0;
  } finally {
    store.close();
  }
}

export const exportCommand = defineCommand<ExportOptions>({
  name: 'export',
  summary: 'export a run as a labeled dataset (class folders, YOLO, CSV, JSONL, HF, Label Studio)',
  define: (command) =>
    command
      .usage('--db FILE --run ID --format FORMAT --out DIR [options]')
      .option('--db <file>', 'the workbench database')
      .option('--run <id>', 'the run to export')
      .option('--format <f>', EXPORT_FORMATS.join(' | '))
      .option('--out <dir>', 'the folder to write (must be empty or missing)')
      .option(
        '--include <what>',
        "reviewed (your review decisions, else imported labels) | predictions (those, and the model's " +
          "label elsewhere). The CSV/JSONL confidence column is the model's probability of a predicted " +
          'label, empty for a label you gave or imported (prob_<class> columns hold every probability)',
        'reviewed',
      )
      .option('--min-confidence <x>', 'leave predictions below X unlabeled')
      .option('--split <t,v[,e]>', 'train/val/test ratios, e.g. 0.8,0.1,0.1 (yolo-cls defaults to 0.8,0.2)')
      .option('--seed <s>', 'seed of the split (default 0)')
      .option('--link <mode>', LINK_MODES.join(' | '), 'copy')
      .option('--unlabeled <mode>', 'omit | folder (put them in _unlabeled/)', 'omit')
      .option('--hf-metadata <kind>', 'hf-imagefolder: jsonl | csv', 'jsonl')
      .option(
        '--ls-root <dir>',
        "labelstudio: Label Studio's LOCAL_FILES_DOCUMENT_ROOT, to link images as local files",
      )
      .option('--json', 'print the result as JSON'),
  run,
});
