// Issue 4: per-image latency and peak memory of zero-shot, TPT and MetaTPT (K_in = 1) on CPU, against
// a TPT baseline with the official code's structure (bench/tpt-baseline.ts) run in the same process on
// the same images, and a check that the baseline predicts what our TPT predicts.
import { parseArgs } from 'node:util';
import {
  ADAPT_DEFAULTS,
  adaptImage,
  imageSeed,
  prepareImage,
  type AdaptOptions,
} from '../src/engine/adapt/adapt.js';
import { PromptSet } from '../src/engine/adapt/prompts.js';
import { ClipEncoder } from '../src/engine/clip/encoder.js';
import { ClipModel } from '../src/engine/clip/model.js';
import { Engine } from '../src/engine/runtime.js';
import { positiveInt, positiveInts } from './lib/args.js';
import { imagenetClassNames } from './lib/classes.js';
import { syntheticImage } from './lib/images.js';
import { maxAbsDiff, median, timed } from './lib/measure.js';
import { MemoryMonitor, type PeakMemory } from './lib/memory.js';
import { ensureClipModel } from './lib/models.js';
import { machineLine, markdownTable, ratio } from './lib/report.js';
import { baselineTpt } from './tpt-baseline.js';

export const METHODS = ['zeroshot', 'tpt', 'metatpt', 'baseline'] as const;
export type Method = (typeof METHODS)[number];

/** Phases, by method, that encode the N views once; everything else is the text side. */
const VIEW_PHASES: Record<Method, readonly string[]> = {
  zeroshot: ['encodeOriginal'],
  tpt: ['encodeOriginal', 'encodeViews'],
  metatpt: ['encodeOriginal', 'encodeViews'],
  baseline: ['encodeViews'],
};

export interface AdaptBenchOptions {
  modelDir: string;
  /** The first `n` of these are the class set of n classes. */
  classNames: readonly string[];
  classCounts: readonly number[];
  viewCounts: readonly number[];
  /** Timed images per view count (after one warm-up image that compiles the graphs). */
  timedImages: (views: number) => number;
  /** K_in for MetaTPT. */
  innerSteps: number;
}

export const ADAPT_BENCH_DEFAULTS = {
  classCounts: [10, 200],
  viewCounts: [16, 64],
  /** ViT-B/16 on 2 cores: 64 views take about a minute per image and method. */
  timedImages: (views: number) => (views > 16 ? 2 : 3),
  innerSteps: 1,
};

export interface MethodRun {
  totalMs: number;
  timings: Record<string, number>;
  memory: PeakMemory;
}

export interface ImageRuns {
  runs: Record<Method, MethodRun>;
  /** Our TPT vs the baseline on this image. */
  sameLabel: boolean;
  probsDiff: number;
}

export interface ConfigResult {
  classes: number;
  views: number;
  promptSetMs: number;
  /** The warm-up image (its runs include compiling the graphs), then the timed ones. */
  warmup: ImageRuns;
  timed: ImageRuns[];
}

export async function runAdaptBenchmark(
  options: AdaptBenchOptions,
  log: (line: string) => void = () => {},
): Promise<ConfigResult[]> {
  const monitor = new MemoryMonitor();
  const engine = new Engine({ provider: 'cpu', log });
  const encoder = new ClipEncoder(ClipModel.load(options.modelDir), engine);
  try {
    const results: ConfigResult[] = [];
    for (const views of options.viewCounts) {
      for (const classes of options.classCounts) {
        if (classes > options.classNames.length) {
          throw new Error(`${classes} classes asked for, only ${options.classNames.length} names given`);
        }
        const prompts = await timed(() => PromptSet.create(encoder, options.classNames.slice(0, classes)));
        const adaptOptions = (method: AdaptOptions['method'], seed: number): AdaptOptions => ({
          ...ADAPT_DEFAULTS,
          method,
          views,
          seed,
          meta: { ...ADAPT_DEFAULTS.meta, innerSteps: options.innerSteps },
        });
        const imageRuns: ImageRuns[] = [];
        for (let i = 0; i <= options.timedImages(views); i++) {
          const image = await prepareImage(syntheticImage(i), prompts.value);
          const seed = imageSeed(0, `bench-image-${i}`);
          const work: Record<
            Method,
            () => Promise<{ timings: Record<string, number>; probs: Float64Array; label: number }>
          > = {
            zeroshot: () => adaptImage(prompts.value, image, adaptOptions('zeroshot', seed)),
            tpt: () => adaptImage(prompts.value, image, adaptOptions('tpt', seed)),
            metatpt: () => adaptImage(prompts.value, image, adaptOptions('metatpt', seed)),
            baseline: () =>
              baselineTpt(prompts.value, image, {
                views,
                seed,
                tpt: ADAPT_DEFAULTS.tpt,
                chunk: ADAPT_DEFAULTS.chunk,
              }),
          };
          const runs = {} as Record<Method, MethodRun>;
          const outcomes = {} as Record<Method, { probs: Float64Array; label: number }>;
          // Rotated order, so that no method always runs right after the same other one.
          for (let k = 0; k < METHODS.length; k++) {
            const method = METHODS[(i + k) % METHODS.length];
            monitor.reset();
            const { ms, value } = await timed(work[method]);
            runs[method] = { totalMs: ms, timings: value.timings, memory: monitor.peak() };
            outcomes[method] = value;
          }
          const check = {
            sameLabel: outcomes.tpt.label === outcomes.baseline.label,
            probsDiff: maxAbsDiff(outcomes.tpt.probs, outcomes.baseline.probs),
          };
          log(
            `C=${classes} views=${views} image ${i}${i === 0 ? ' (warm-up)' : ''}: ` +
              METHODS.map((m) => `${m} ${(runs[m].totalMs / 1000).toFixed(1)} s`).join(', ') +
              `; TPT label ${outcomes.tpt.label}, baseline label ${outcomes.baseline.label}, ` +
              `max |Δ probs| ${check.probsDiff.toExponential(2)}`,
          );
          imageRuns.push({ runs, ...check });
        }
        results.push({
          classes,
          views,
          promptSetMs: prompts.ms,
          warmup: imageRuns[0],
          timed: imageRuns.slice(1),
        });
      }
    }
    return results;
  } finally {
    monitor.stop();
    await engine.dispose();
  }
}

/** Median over the timed images of one method's total, view-encoding and text-side milliseconds. */
export function methodSummary(config: ConfigResult, method: Method) {
  const runs = config.timed.map((image) => image.runs[method]);
  const viewMs = (run: MethodRun) =>
    VIEW_PHASES[method].reduce((sum, phase) => sum + (run.timings[phase] ?? 0), 0);
  const phases = [...new Set(runs.flatMap((run) => Object.keys(run.timings)))];
  return {
    totalMs: median(runs.map((r) => r.totalMs)),
    viewMs: median(runs.map(viewMs)),
    textMs: median(runs.map((r) => r.totalMs - viewMs(r))),
    phases: Object.fromEntries(phases.map((p) => [p, median(runs.map((r) => r.timings[p] ?? 0))])),
    sampledMiB: Math.max(...runs.map((r) => r.memory.sampledMiB)),
    highWaterMiB: runs.every((r) => r.memory.highWaterMiB !== null)
      ? Math.max(...runs.map((r) => r.memory.highWaterMiB!))
      : null,
  };
}

const METHOD_LABELS: Record<Method, string> = {
  zeroshot: 'zero-shot',
  tpt: 'TPT (ours)',
  metatpt: 'MetaTPT K_in=1',
  baseline: 'TPT baseline (official structure)',
};

export function adaptReport(results: readonly ConfigResult[]): string {
  const sec = (ms: number) => ms / 1000;
  const latency = markdownTable(
    [
      'C',
      'views',
      'method',
      'first image s (compiles)',
      'median s / image',
      'view encoding s',
      'text side s',
      'peak RSS sampled MiB',
      'VmHWM MiB',
    ],
    results.flatMap((config) =>
      METHODS.map((method) => {
        const s = methodSummary(config, method);
        return [
          config.classes,
          config.views,
          METHOD_LABELS[method],
          sec(config.warmup.runs[method].totalMs),
          sec(s.totalMs),
          sec(s.viewMs),
          sec(s.textMs),
          Math.round(s.sampledMiB),
          s.highWaterMiB === null ? 'n/a' : Math.round(s.highWaterMiB),
        ];
      }),
    ),
    2,
  );
  const targets = markdownTable(
    [
      'C',
      'views',
      'text side ours / baseline (≤ 0.25 at C=200)',
      'TPT ours / baseline (≤ 0.5)',
      'MetaTPT / TPT (≤ 3)',
      'same label (all images)',
      'max abs diff of probs',
    ],
    results.map((config) => {
      const [tpt, meta, baseline] = (['tpt', 'metatpt', 'baseline'] as const).map((m) =>
        methodSummary(config, m),
      );
      const images = [config.warmup, ...config.timed];
      return [
        config.classes,
        config.views,
        ratio(tpt.textMs, baseline.textMs),
        ratio(tpt.totalMs, baseline.totalMs),
        ratio(meta.totalMs, tpt.totalMs),
        `${images.filter((im) => im.sameLabel).length} / ${images.length}`,
        Math.max(...images.map((im) => im.probsDiff)).toExponential(1),
      ];
    }),
  );
  const phases = markdownTable(
    ['C', 'views', 'method', 'median ms per phase'],
    results.flatMap((config) =>
      METHODS.map((method) => [
        config.classes,
        config.views,
        METHOD_LABELS[method],
        Object.entries(methodSummary(config, method).phases)
          .map(([phase, ms]) => `${phase} ${Math.round(ms)}`)
          .join(', '),
      ]),
    ),
  );
  const timedCounts = [...new Set(results.map((r) => `${r.timed.length} at ${r.views} views`))].join(', ');
  return [
    `Medians over timed images (${timedCounts}), after one warm-up image per configuration whose ` +
      'runs compile the graphs. View encoding = encoding the N views once (the original included); the ' +
      'text side is everything else (for the baseline: the 77-token text step, the text tower at the ' +
      'new context and the original encoded again). Peak memory: the largest over the timed images of ' +
      'the high-water mark reset before each run; compiled sessions of earlier runs stay resident.',
    '',
    latency,
    '',
    targets,
    '',
    phases,
  ].join('\n');
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      classes: { type: 'string' },
      views: { type: 'string' },
      images: { type: 'string' },
      'inner-steps': { type: 'string' },
    },
  });
  const log = (line: string) => console.error(line);
  const d = ADAPT_BENCH_DEFAULTS;
  const images = values.images === undefined ? undefined : positiveInt('images', values.images, 0);
  const results = await runAdaptBenchmark(
    {
      modelDir: values.model ?? ensureClipModel('vit-b-16', log),
      classNames: imagenetClassNames(),
      classCounts: positiveInts('classes', values.classes, d.classCounts),
      viewCounts: positiveInts('views', values.views, d.viewCounts),
      timedImages: images === undefined ? d.timedImages : () => images,
      innerSteps: positiveInt('inner-steps', values['inner-steps'], d.innerSteps),
    },
    log,
  );
  console.log(`## adapt\n\n${machineLine()}\n\n${adaptReport(results)}`);
}
