// `metatpt classify`: classifies image files and folders with CLIP, zero-shot, adapted per image
// (TPT, MetaTPT) or with a learned prompt from the database (CoOp, Self-TPT), and prints a table or
// one JSON object per image.
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  addAdaptOptions,
  addClassOptions,
  addModelOptions,
  adaptParamsFromArgs,
  classSpecFromArgs,
  ignoredAdaptOptions,
  parseDevice,
  type AdaptOptionValues,
  type ClassOptionValues,
  type ModelOptionValues,
} from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { ProgressLine, tableRow, type Column, type CommandIo } from '../format.js';
import { embeddedModelDir } from '../resources.js';
import { promptsWithLearnedContext, type LearnedContext } from '../../engine/adapt/learn.js';
import { LEARNED_PROMPT_METHODS, resolveSettings } from '../../shared/domain/adaptation.js';
import { databasePath } from '../../backend/paths.js';
import { openStore } from '../../backend/store/index.js';
import {
  adaptOptions,
  type AdaptOptions,
  type PreparedImage,
  type ViewRecord,
} from '../../engine/adapt/adapt.js';
import { Classifier, type Classification } from '../../engine/adapt/classifier.js';
import { nearestTokens, PromptSet } from '../../engine/adapt/prompts.js';
import { ViewGraphs } from '../../engine/adapt/metatpt.js';
import { ClipEncoder } from '../../engine/clip/encoder.js';
import { ClipModel } from '../../engine/clip/model.js';
import { ImageDecodeError } from '../../engine/image/decode.js';
import { writePng } from '../../engine/image/preprocess.js';
import { Engine } from '../../engine/runtime.js';
import { walkImageFiles } from '../../backend/library/files.js';
import {
  SKIP_REASON_TEXT,
  explainDecodeFailure,
  summariseSkipped,
  type SkippedEntry,
} from '../../shared/domain/image-types.js';

interface ClassifyOptions extends ModelOptionValues, ClassOptionValues, AdaptOptionValues {
  db?: string;
  dumpViews?: string;
  followLinks?: boolean;
  json?: boolean;
  progress?: boolean;
}

/** Progress is shown on a terminal only when there are more images than this. */
const PROGRESS_MIN_IMAGES = 5;

/** One image to classify: `file` is absolute, `display` is the path as the user wrote it. */
interface ImageInput {
  file: string;
  display: string;
}

/** Skipped entries named one per line on stderr; beyond this only the count per reason. */
const SKIPPED_NAMED = 20;

/**
 * The images named on the command line, each once: folders expanded recursively (sorted), anything
 * else taken as a file (the decoder reports what is not an image). Every entry of a folder that is
 * not an image is reported: in --json mode as a `{"path","skipped","detail"}` line, otherwise on stderr.
 */
async function expandInputs(
  targets: readonly string[],
  io: CommandIo,
  options: { json: boolean; followLinks: boolean },
): Promise<ImageInput[]> {
  const inputs = new Map<string, ImageInput>();
  const add = (input: ImageInput) => {
    if (!inputs.has(input.file)) inputs.set(input.file, input);
  };
  for (const target of targets) {
    const info = await stat(target).catch(() => undefined);
    if (!info?.isDirectory()) {
      add({ file: path.resolve(target), display: target });
      continue;
    }
    const skipped: SkippedEntry[] = [];
    const found: ImageInput[] = [];
    for await (const file of walkImageFiles(target, {
      followLinksOutside: options.followLinks,
      onSkip: (entry) => skipped.push(entry),
    })) {
      found.push({ file: file.absPath, display: path.join(target, file.relPath) });
    }
    found.sort((a, b) => a.file.localeCompare(b.file)).forEach(add);
    if (found.length === 0) io.stderr(`metatpt: warning: no image files in ${target}\n`);
    reportSkipped(target, skipped, io, options.json);
  }
  return [...inputs.values()];
}

function reportSkipped(folder: string, skipped: readonly SkippedEntry[], io: CommandIo, json: boolean): void {
  if (skipped.length === 0) return;
  const display = (entry: SkippedEntry) => path.join(folder, entry.path);
  if (json) {
    for (const entry of skipped)
      io.stdout(`${JSON.stringify({ path: display(entry), skipped: entry.reason, detail: entry.detail })}\n`);
    return;
  }
  io.stderr(`metatpt: skipped ${skipped.length} entries of ${folder} (${summariseSkipped(skipped)})\n`);
  for (const entry of skipped.slice(0, SKIPPED_NAMED))
    io.stderr(`  ${display(entry)}: ${SKIP_REASON_TEXT[entry.reason]}\n`);
  if (skipped.length > SKIPPED_NAMED)
    io.stderr(`  … and ${skipped.length - SKIPPED_NAMED} more (--json lists all)\n`);
}

interface Classified extends Omit<Classification, 'image'> {
  input: ImageInput;
}

/** How results and per-image errors are printed. */
interface ResultPrinter {
  result(item: Classified): void;
  error(input: ImageInput, message: string): void;
}

/** One JSON object per line on stdout, errors included (`{"path", "error"}`), so stdout stays parseable. */
class JsonLinesPrinter implements ResultPrinter {
  constructor(
    private readonly io: CommandIo,
    private readonly prompts: PromptSet,
  ) {}

  result({ input, result, seed, prepareMs }: Classified): void {
    const { classNames } = this.prompts;
    const record: Record<string, unknown> = {
      path: input.display,
      label: classNames[result.label],
      classes: classNames,
      probs: [...result.probs],
      entropy: result.entropy,
      method: result.method,
      adapted: result.adapted,
      zeroShotLabel: classNames[result.zeroShotLabel],
      zeroShotProbs: [...result.zeroShotProbs],
      timings: { prepare: prepareMs, ...result.timings },
    };
    if (result.method !== 'zeroshot') Object.assign(record, { seed, losses: result.losses });
    if (result.views) record.views = result.views;
    if (result.ctx) record.nearestTokens = nearestTokens(this.prompts.encoder, result.ctx, 3);
    this.io.stdout(`${JSON.stringify(record)}\n`);
  }

  error(input: ImageInput, message: string): void {
    this.io.stdout(`${JSON.stringify({ path: input.display, error: message })}\n`);
  }
}

/** An aligned table on stdout (widths known up front, so rows stream); errors go to stderr. */
class TablePrinter implements ResultPrinter {
  private readonly columns: Column[];
  private readonly showZeroShot: boolean;

  constructor(
    private readonly io: CommandIo,
    private readonly prompts: PromptSet,
    inputs: readonly ImageInput[],
    method: AdaptOptions['method'],
  ) {
    // Very long paths or names overflow their cell rather than widen every row.
    const widest = (texts: readonly string[], header: string, cap: number) =>
      Math.min(cap, Math.max(header.length, ...texts.map((t) => t.length)));
    const labelWidth = widest(prompts.classNames, 'LABEL', 30);
    this.showZeroShot = method !== 'zeroshot';
    this.columns = [
      {
        width: widest(
          inputs.map((i) => i.display),
          'PATH',
          60,
        ),
      },
      { width: labelWidth },
      { width: 'CONF'.length + 2, align: 'right' },
      ...(this.showZeroShot ? [{ width: labelWidth }] : []),
    ];
    const header = ['PATH', 'LABEL', 'CONF', ...(this.showZeroShot ? ['ZERO-SHOT'] : [])];
    io.stdout(`${tableRow(header, this.columns)}\n`);
  }

  result({ input, result }: Classified): void {
    const { classNames } = this.prompts;
    const changed = result.zeroShotLabel !== result.label;
    const cells = [input.display, classNames[result.label], result.probs[result.label].toFixed(3)];
    if (this.showZeroShot) cells.push(changed ? classNames[result.zeroShotLabel] : '');
    this.io.stdout(`${tableRow(cells, this.columns)}\n`);
  }

  error(input: ImageInput, message: string): void {
    this.io.stderr(`metatpt: ${input.display}: ${message}\n`);
  }
}

/**
 * Writes an adapted image's views as PNG: view 0 is the CLIP-preprocessed original, the others are
 * rendered from the source with the same warp the views were encoded with.
 */
class ViewDumper {
  private readonly folderNames = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly prompts: PromptSet,
  ) {}

  /** DIR/<stem>, with -2, -3, ... when two images of this run share a stem. */
  private folderFor(file: string): string {
    const stem = path.parse(file).name;
    let name = stem;
    for (let n = 2; this.folderNames.has(name); n++) name = `${stem}-${n}`;
    this.folderNames.add(name);
    return path.join(this.dir, name);
  }

  private async renderWarped(image: PreparedImage, views: readonly ViewRecord[]): Promise<Float32Array> {
    const fn = await new ViewGraphs(this.prompts, image.source).render(views.length);
    const out = await fn.run({ source: image.source.data, theta: views.flatMap((v) => v.theta) });
    return out.views.data as Float32Array;
  }

  async write(file: string, image: PreparedImage, views: readonly ViewRecord[]): Promise<void> {
    const { model } = this.prompts.encoder;
    const size = model.config.vision.imageSize;
    const folder = this.folderFor(file);
    await mkdir(folder, { recursive: true });
    // Views of an earlier run may have other selection marks; only those files are removed.
    const stale = (await readdir(folder)).filter((name) => /^view-\d+(-selected)?\.png$/.test(name));
    await Promise.all(stale.map((name) => rm(path.join(folder, name))));

    const digits = Math.max(2, String(views.length - 1).length);
    const fileName = (v: number) =>
      `view-${String(v).padStart(digits, '0')}${views[v].selected ? '-selected' : ''}.png`;
    const plane = 3 * size * size;
    const warped = views.length > 1 ? await this.renderWarped(image, views.slice(1)) : new Float32Array(0);
    await writePng(path.join(folder, fileName(0)), image.original, size, size, model.preprocess);
    for (let v = 1; v < views.length; v++) {
      await writePng(path.join(folder, fileName(v)), warped.subarray((v - 1) * plane, v * plane), size, size);
    }
  }
}

interface ClassifyRun {
  classifier: Classifier;
  options: AdaptOptions;
  printer: ResultPrinter;
  dumper?: ViewDumper;
  progress?: ProgressLine;
  interrupt?: AbortSignal;
}

/** Classifies the images in order; returns how many were classified and whether the user stopped the run. */
async function classifyAll(
  inputs: readonly ImageInput[],
  run: ClassifyRun,
): Promise<{ classified: number; interrupted: boolean }> {
  const { classifier, options, printer, dumper, progress, interrupt } = run;
  let classified = 0;
  for (const [index, input] of inputs.entries()) {
    if (interrupt?.aborted) return { classified, interrupted: true };
    progress?.update(index, input.display);
    let item: Classified;
    try {
      // Seeded by the file, not its position: results do not depend on what else is classified.
      const { image, ...outcome } = await classifier.classify(input.file, options);
      if (dumper && outcome.result.views) await dumper.write(input.file, image, outcome.result.views);
      item = { input, ...outcome };
    } catch (error) {
      if (!(error instanceof ImageDecodeError)) throw error;
      progress?.clear();
      printer.error(input, explainDecodeFailure(input.file, error.reason));
      continue;
    }
    progress?.clear();
    printer.result(item);
    classified++;
  }
  return { classified, interrupted: interrupt?.aborted ?? false };
}

/** A learned prompt read from the workbench database. */
function learnedContextFromStore(db: string | undefined, id: number): LearnedContext {
  const store = openStore(databasePath(db));
  try {
    const learned = store.learnedPrompts.get(id);
    if (!learned) throw new UsageError(`--learned-prompt ${id}: no such learned prompt in ${store.path}`);
    const { method, ctx, classNames, selfTpt, settings } = learned;
    return { method, ctx, classNames, selfTpt, settings };
  } finally {
    store.close();
  }
}

async function classify(values: ClassifyOptions, positionals: string[], io: CommandIo): Promise<number> {
  const modelDir = values.model ?? embeddedModelDir();
  const device = parseDevice(values.device);
  const params = adaptParamsFromArgs(values);
  const options = adaptOptions(resolveSettings(params));
  const learned = params.learnedPrompt ? learnedContextFromStore(values.db, params.learnedPrompt) : null;
  if (LEARNED_PROMPT_METHODS.includes(options.method) && !learned) {
    throw new UsageError(
      `--method ${options.method} classifies with a learned prompt: give --learned-prompt ID (made by metatpt learn)`,
    );
  }
  const classSpec = await classSpecFromArgs(values);
  for (const warning of classSpec.warnings) io.stderr(`metatpt: warning: ${warning}\n`);
  if (positionals.length === 0) throw new UsageError('name at least one image file or folder');
  const ignored = ignoredAdaptOptions(values, options.method);
  if (values.dumpViews !== undefined && options.method === 'zeroshot') ignored.push('--dump-views');
  if (ignored.length > 0)
    io.stderr(`metatpt: note: ${ignored.join(', ')} change nothing with --method ${options.method}\n`);

  const model = ClipModel.load(modelDir);
  const inputs = await expandInputs(positionals, io, {
    json: values.json === true,
    followLinks: values.followLinks === true,
  });
  if (inputs.length === 0) {
    io.stderr('metatpt: no images to classify\n');
    return 1;
  }
  const engine = new Engine({ provider: device, log: (line) => io.stderr(`${line}\n`) });
  try {
    const encoder = new ClipEncoder(model, engine);
    const prompts = learned
      ? (await promptsWithLearnedContext(encoder, classSpec.names, classSpec, learned)).prompts
      : await PromptSet.create(encoder, classSpec.names, classSpec);
    if (options.method !== 'zeroshot' && prompts.nCtx === 0) {
      throw new UsageError(
        `--method ${options.method} tunes the words before {} in the template; "${classSpec.template}" has none`,
      );
    }
    const showProgress = values.progress || (io.stderrIsTTY && inputs.length > PROGRESS_MIN_IMAGES);
    const { classified, interrupted } = await classifyAll(inputs, {
      classifier: new Classifier(prompts),
      options,
      printer: values.json
        ? new JsonLinesPrinter(io, prompts)
        : new TablePrinter(io, prompts, inputs, options.method),
      dumper:
        values.dumpViews !== undefined && options.method !== 'zeroshot'
          ? new ViewDumper(path.resolve(values.dumpViews), prompts)
          : undefined,
      progress: showProgress
        ? new ProgressLine(inputs.length, io.stderr, { inPlace: io.stderrIsTTY, columns: io.stderrColumns })
        : undefined,
      interrupt: io.interrupt,
    });
    if (interrupted) {
      io.stderr(`metatpt: interrupted after ${classified} of ${inputs.length} images\n`);
      return 130;
    }
    if (classified === 0) {
      io.stderr('metatpt: none of the images could be classified\n');
      return 1;
    }
    if (classified < inputs.length) {
      const failed = inputs.length - classified;
      io.stderr(`metatpt: ${failed} of ${inputs.length} images could not be classified (named above)\n`);
    }
    return 0;
  } finally {
    await engine.dispose();
  }
}

export const classifyCommand = defineCommand<ClassifyOptions>({
  name: 'classify',
  summary: 'classify images and folders (zero-shot, TPT or MetaTPT); a table or JSON lines',
  define: (command) => {
    command.usage('[--model DIR] (--classes "a,b" | --classes-file F) [options] IMAGE_OR_FOLDER...');
    command.argument('[IMAGE_OR_FOLDER...]', 'image files, and folders searched recursively');
    addAdaptOptions(addClassOptions(addModelOptions(command)))
      .option('--db <file>', "the workbench database holding --learned-prompt (default: the desktop app's)")
      .option(
        '--dump-views <dir>',
        "write each adapted image's views as PNG to DIR/<image>/view-NN[-selected].png",
      )
      .option(
        '--follow-links',
        'follow symbolic links that lead out of a named folder (default: skip and name them)',
      )
      .option('--json', 'one JSON object per image per line (default: a table)')
      .option('--progress', 'show progress on stderr even when it is not a terminal');
  },
  run: classify,
});
