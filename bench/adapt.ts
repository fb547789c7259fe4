// Issue 4: per-image latency and peak memory of zero-shot, TPT and MetaTPT (K_in = 1) on CPU, against
// a TPT baseline with the official code's structure (bench/tpt-baseline.ts) run in the same process on
// the same images, and a check that the baseline predicts what our TPT predicts.
import { parseArgs } from 'node:util';
import { ADAPT_DEFAULTS, imageSeed, type AdaptOptions } from '../src/engine/adapt/adapt.js';
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
import { Classifier } from '../src/engine/adapt/classifier.js';

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
  /** The methods to run, in this order (default: all). */
  methods?: readonly Method[];
}

export const ADAPT_BENCH_DEFAULTS = {
  classCounts: [10, 200],
  viewCounts: [16, 64],
  /** ViT-B/16 on 2 cores: the baseline at C = 200 takes minutes per image. */
  timedImages: () => 2,
  innerSteps: 1,
};

export interface MethodRun {
  totalMs: number;
  timings: Record<string, number>;
  memory: PeakMemory;
}

export interface ImageRuns {
  runs: Partial<Record<Method, MethodRun>>;
  /** Our TPT vs the baseline on this image; null unless both ran. */
  sameLabel: boolean | null;
  probsDiff: number | null;
}

export interface ConfigResult {
  classes: number;
  views: number;
  methods: readonly Method[];
  /** The warm-up image (its runs include compiling the graphs), then the timed ones. */
  warmup: ImageRuns;
  timed: ImageRuns[];
}

type Outcome = { timings: Record<string, number>; probs: Float64Array; label: number };

/**
 * Runs each method on the same images, one method at a time with its own engine, released before the
 * next: onnxruntime keeps each session's memory at its peak, and the baseline's 77-token gradient
 * graph alone holds over 10 GB at C = 200, so methods sharing one process-wide cache do not fit in
 * 24 GB. Per-method engines also make each method's peak memory its own.
 */
export async function runAdaptBenchmark(
  options: AdaptBenchOptions,
  log: (line: string) => void = () => {},
  /** Called as each configuration completes (a full run takes long; report as it goes). */
  onConfig: (result: ConfigResult) => void = () => {},
): Promise<ConfigResult[]> {
  const methods = options.methods ?? METHODS;
  const monitor = new MemoryMonitor();
  const model = ClipModel.load(options.modelDir);
  try {
    const results: ConfigResult[] = [];
    for (const views of options.viewCounts) {
      for (const classes of options.classCounts) {
        if (classes > options.classNames.length) {
          throw new Error(`${classes} classes asked for, only ${options.classNames.length} names given`);
        }
        const imageCount = 1 + options.timedImages(views);
        const runs = Object.fromEntries(methods.map((m) => [m, [] as MethodRun[]])) as Partial<
          Record<Method, MethodRun[]>
        >;
        const outcomes = Object.fromEntries(methods.map((m) => [m, [] as Outcome[]])) as Partial<
          Record<Method, Outcome[]>
        >;
        for (const method of methods) {
          const engine = new Engine({ provider: 'cpu', log: () => {} });
          try {
            const prompts = await PromptSet.create(
              new ClipEncoder(model, engine),
              options.classNames.slice(0, classes),
            );
            const classifier = new Classifier(prompts);
            for (let i = 0; i < imageCount; i++) {
              const image = await classifier.prepare(syntheticImage(i));
              const seed = imageSeed(0, `bench-image-${i}`);
              const adaptOptions: AdaptOptions = {
                ...ADAPT_DEFAULTS,
                method: method === 'baseline' ? 'tpt' : method,
                views,
                seed,
                meta: { ...ADAPT_DEFAULTS.meta, innerSteps: options.innerSteps },
              };
              monitor.reset();
              const { ms, value } = await timed((): Promise<Outcome> =>
                method === 'baseline'
                  ? baselineTpt(prompts, image, {
                      views,
                      seed,
                      tpt: adaptOptions.tpt,
                      chunk: adaptOptions.chunk,
                    })
                  : classifier.run(image, adaptOptions),
              );
              runs[method]!.push({ totalMs: ms, timings: value.timings, memory: monitor.peak() });
              outcomes[method]!.push(value);
              log(
                `C=${classes} views=${views} ${method} image ${i}${i === 0 ? ' (warm-up)' : ''}: ` +
                  `${(ms / 1000).toFixed(1)} s, label ${value.label}`,
              );
            }
          } finally {
            await engine.dispose();
          }
        }
        const imageRuns = Array.from({ length: imageCount }, (_, i): ImageRuns => {
          const [tpt, baseline] = [outcomes.tpt?.[i], outcomes.baseline?.[i]];
          const imageRuns = Object.fromEntries(methods.map((m) => [m, runs[m]![i]]));
          if (!tpt || !baseline) return { runs: imageRuns, sameLabel: null, probsDiff: null };
          const check = {
            sameLabel: tpt.label === baseline.label,
            probsDiff: maxAbsDiff(tpt.probs, baseline.probs),
          };
          log(
            `C=${classes} views=${views} image ${i}: TPT label ${tpt.label}, baseline label ${baseline.label}, ` +
              `max |Δ probs| ${check.probsDiff.toExponential(2)}`,
          );
          return { runs: imageRuns, ...check };
        });
        const result = { classes, views, methods, warmup: imageRuns[0], timed: imageRuns.slice(1) };
        results.push(result);
        onConfig(result);
      }
    }
    return results;
  } finally {
    monitor.stop();
  }
}

/** Median over the timed images of one method's total, view-encoding and text-side milliseconds. */
export function methodSummary(config: ConfigResult, method: Method) {
  const runs = config.timed.map((image) => {
    const run = image.runs[method];
    if (!run) throw new Error(`adapt benchmark: method '${method}' was not run`);
    return run;
  });
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
      config.methods.map((method) => {
        const s = methodSummary(config, method);
        return [
          config.classes,
          config.views,
          METHOD_LABELS[method],
          sec(config.warmup.runs[method]!.totalMs),
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
      'MetaTPT / TPT (≤ 2, issue 18)',
      'same label (all images)',
      'max abs diff of probs',
    ],
    results.map((config) => {
      const [tpt, meta, baseline] = (['tpt', 'metatpt', 'baseline'] as const).map((m) =>
        config.methods.includes(m) ? methodSummary(config, m) : null,
      );
      const images = [config.warmup, ...config.timed];
      const checked = images.flatMap((im) =>
        im.sameLabel === null ? [] : [{ sameLabel: im.sameLabel, probsDiff: im.probsDiff! }],
      );
      const versus = (a: typeof tpt, b: typeof tpt, part: 'textMs' | 'totalMs') =>
        a && b ? ratio(a[part], b[part]) : 'not run';
      return [
        config.classes,
        config.views,
        versus(tpt, baseline, 'textMs'),
        versus(tpt, baseline, 'totalMs'),
        versus(meta, tpt, 'totalMs'),
        checked.length ? `${checked.filter((im) => im.sameLabel).length} / ${checked.length}` : 'not run',
        checked.length ? Math.max(...checked.map((im) => im.probsDiff)).toExponential(1) : 'not run',
      ];
    }),
  );
  const phases = markdownTable(
    ['C', 'views', 'method', 'median ms per phase'],
    results.flatMap((config) =>
      config.methods.map((method) => [
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
    `Medians over timed images (${timedCounts}). Each method runs all images of a configuration with ` +
      'its own engine, released before the next method (memory, see runAdaptBenchmark); its first, ' +
      'warm-up image compiles the graphs. View encoding = encoding the N views once (the original included); the ' +
      'text side is everything else (for the baseline: the 77-token text step, the text tower at the ' +
      'new context and the original encoded again). Peak memory: the largest over the timed images of ' +
      "the high-water mark reset before each run, with the method's sessions of earlier images resident.",
    '',
    latency,
    '',
    targets,
    '',
    phases,
  ].join('\n');
}

/** A comma-separated list of METHODS, e.g. "tpt,metatpt". */
function methodList(value: string): Method[] {
  return value.split(',').map((part) => {
    const method = part.trim();
    if (!(METHODS as readonly string[]).includes(method))
      throw new Error(`--methods: expected some of ${METHODS.join(', ')}, got "${method}"`);
    return method as Method;
  });
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
      methods: { type: 'string' },
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
      methods: values.methods === undefined ? undefined : methodList(values.methods),
    },
    log,
    (config) => log(`\n${adaptReport([config])}\n`),
  );
  console.log(`## adapt\n\n${machineLine()}\n\n${adaptReport(results)}`);
}
