// Issue 3: zero-shot classification costs on a ViT-B/16-shaped model: time to load and compile,
// text encoding of a class set at its trimmed length versus the full 77 tokens, image throughput by
// batch size, and peak memory.
import { parseArgs } from 'node:util';
import { DEFAULT_TEMPLATE } from '../src/shared/domain/adaptation.js';
import { ClipEncoder } from '../src/engine/clip/encoder.js';
import { ClipModel } from '../src/engine/clip/model.js';
import { Random } from '../src/engine/random.js';
import { Engine } from '../src/engine/runtime.js';
import { positiveInt, positiveInts } from './lib/args.js';
import { imagenetClassNames } from './lib/classes.js';
import { interleaved, maxAbsDiff, median, timed } from './lib/measure.js';
import { MemoryMonitor, type PeakMemory } from './lib/memory.js';
import { ensureClipModel } from './lib/models.js';
import { machineLine, markdownTable } from './lib/report.js';

export interface ZeroShotBenchOptions {
  modelDir: string;
  /** The first `n` of these are the class set of n classes. */
  classNames: readonly string[];
  classCounts: readonly number[];
  batchSizes: readonly number[];
  /** Images encoded per throughput measurement (at least one batch). */
  imagesPerMeasurement: number;
  repeats: number;
}

export const ZEROSHOT_BENCH_DEFAULTS = {
  classCounts: [10, 200],
  batchSizes: [1, 8, 32],
  imagesPerMeasurement: 16,
  repeats: 3,
};

export interface TextRow {
  classes: number;
  trimmedLength: number;
  fullLength: number;
  trimmedMs: number;
  fullMs: number;
  /** Largest difference between trimmed and full-length features: trimming must not change them. */
  featureDiff: number;
}

export interface ImageRow {
  batch: number;
  imagesPerSecond: number;
  memory: PeakMemory;
}

export interface ZeroShotBenchResult {
  options: ZeroShotBenchOptions;
  load: {
    loadMs: number;
    firstImageMs: number;
    steadyImageMs: number;
    firstTextMs: number;
    memory: PeakMemory;
  };
  text: TextRow[];
  textMemory: PeakMemory;
  images: ImageRow[];
}

export async function runZeroShotBenchmark(
  options: ZeroShotBenchOptions,
  log: (line: string) => void = () => {},
): Promise<ZeroShotBenchResult> {
  const monitor = new MemoryMonitor();
  const engine = new Engine({ provider: 'cpu', log });
  try {
    monitor.reset();
    const model = await timed(() => ClipModel.load(options.modelDir));
    const { imageSize, numChannels } = model.value.config.vision;
    const perImage = numChannels * imageSize * imageSize;
    const pixels = new Random(3).normalArray(
      Math.max(options.imagesPerMeasurement, ...options.batchSizes) * perImage,
    );

    // Ready to classify: the model read, the vision and text graphs compiled and run once.
    const single = new ClipEncoder(model.value, engine, 1);
    const onePixel = pixels.subarray(0, perImage);
    const firstImage = await timed(() => single.encodeImages(onePixel, 1));
    const steadyImage = await interleaved(
      { image: () => single.encodeImages(onePixel, 1) },
      {
        rounds: options.repeats,
        warmupRounds: 0,
      },
    );
    const promptsOf = (n: number) =>
      options.classNames.slice(0, n).map((name) => DEFAULT_TEMPLATE.replace('{}', name));
    const firstText = await timed(() =>
      single.encodeText(model.value.tokenizer.encode(promptsOf(options.classCounts[0]))),
    );
    const load = {
      loadMs: model.ms,
      firstImageMs: firstImage.ms,
      steadyImageMs: median(steadyImage.image),
      firstTextMs: firstText.ms,
      memory: monitor.peak(),
    };
    log(`load: ${JSON.stringify(load)}`);

    monitor.reset();
    const text: TextRow[] = [];
    for (const classes of options.classCounts) {
      if (classes > options.classNames.length) {
        throw new Error(`${classes} classes asked for, only ${options.classNames.length} names given`);
      }
      const batch = model.value.tokenizer.encode(promptsOf(classes));
      // The first round of each case compiles its graph.
      const samples = await interleaved(
        {
          trimmed: () => single.encodeText(batch, { trim: true }),
          full: () => single.encodeText(batch, { trim: false }),
        },
        { rounds: options.repeats },
      );
      const featureDiff = maxAbsDiff(
        await single.encodeText(batch, { trim: true }),
        await single.encodeText(batch, { trim: false }),
      );
      const row = {
        classes,
        trimmedLength: batch.maxLength,
        fullLength: batch.contextLength,
        trimmedMs: median(samples.trimmed),
        fullMs: median(samples.full),
        featureDiff,
      };
      log(`text: ${JSON.stringify(row)}`);
      text.push(row);
    }
    const textMemory = monitor.peak();

    const images: ImageRow[] = [];
    for (const batch of options.batchSizes) {
      monitor.reset();
      const encoder = new ClipEncoder(model.value, engine, batch);
      const count = Math.max(batch, options.imagesPerMeasurement);
      const batchPixels = pixels.subarray(0, count * perImage);
      const samples = await interleaved(
        { encode: () => encoder.encodeImages(batchPixels, count) },
        {
          rounds: options.repeats,
        },
      );
      const row = { batch, imagesPerSecond: count / (median(samples.encode) / 1000), memory: monitor.peak() };
      log(`images: ${JSON.stringify(row)}`);
      images.push(row);
    }
    return { options, load, text, textMemory, images };
  } finally {
    monitor.stop();
    await engine.dispose();
  }
}

const mib = (m: PeakMemory) => [m.sampledMiB, m.highWaterMiB ?? 'n/a'] as const;

export function zeroShotReport(result: ZeroShotBenchResult): string {
  const { load, text, images, options } = result;
  const loadTable = markdownTable(
    ['step', 'ms'],
    [
      ['ClipModel.load (read safetensors, tokenizer)', load.loadMs],
      ['first image: compile vision graph + run (batch 1)', load.firstImageMs],
      ['  of which compile (first − steady run)', load.firstImageMs - load.steadyImageMs],
      [`first text encoding: compile + run (${options.classCounts[0]} classes)`, load.firstTextMs],
      ['ready to classify (sum)', load.loadMs + load.firstImageMs + load.firstTextMs],
    ],
  );
  const textTable = markdownTable(
    [
      'classes',
      'tokens trimmed / full',
      'trimmed ms',
      '77 tokens ms',
      'speed-up',
      'max abs diff of features',
    ],
    text.map((r) => [
      r.classes,
      `${r.trimmedLength} / ${r.fullLength}`,
      r.trimmedMs,
      r.fullMs,
      `${(r.fullMs / r.trimmedMs).toFixed(2)}×`,
      r.featureDiff.toExponential(1),
    ]),
  );
  const imageTable = markdownTable(
    ['image batch', 'images/s', 'ms per image', 'peak RSS sampled MiB', 'VmHWM MiB'],
    images.map((r) => [r.batch, r.imagesPerSecond.toFixed(2), 1000 / r.imagesPerSecond, ...mib(r.memory)]),
  );
  const memoryTable = markdownTable(
    ['phase', 'peak RSS sampled MiB', 'VmHWM MiB'],
    [
      ['load + first compiles', ...mib(load.memory)],
      ['text encoding (all class sets, both lengths)', ...mib(result.textMemory)],
      ...images.map((r): [string, number, number | string] => [`images, batch ${r.batch}`, ...mib(r.memory)]),
    ],
  );
  return [
    `Model: ${options.modelDir}. Medians of ${options.repeats} runs after one warm-up run; ` +
      `${options.imagesPerMeasurement} images per throughput measurement (at least one batch).`,
    '',
    loadTable,
    '',
    textTable,
    '',
    imageTable,
    '',
    'Peak memory by phase (each phase resets the high-water mark; sessions stay cached across phases):',
    '',
    memoryTable,
  ].join('\n');
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      classes: { type: 'string' },
      batches: { type: 'string' },
      images: { type: 'string' },
      repeats: { type: 'string' },
    },
  });
  const log = (line: string) => console.error(line);
  const d = ZEROSHOT_BENCH_DEFAULTS;
  const result = await runZeroShotBenchmark(
    {
      modelDir: values.model ?? ensureClipModel('vit-b-16', log),
      classNames: imagenetClassNames(),
      classCounts: positiveInts('classes', values.classes, d.classCounts),
      batchSizes: positiveInts('batches', values.batches, d.batchSizes),
      imagesPerMeasurement: positiveInt('images', values.images, d.imagesPerMeasurement),
      repeats: positiveInt('repeats', values.repeats, d.repeats),
    },
    log,
  );
  console.log(`## zeroshot\n\n${machineLine()}\n\n${zeroShotReport(result)}`);
}
