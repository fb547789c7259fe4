// Accuracy of the embedded model on held-out renderings of its procedural domain: zero-shot, TPT and
// MetaTPT (K_in = 1, two-stage) per domain shift, mean ± sd over view seeds.
// `npm run bench -- embedded-accuracy [--model DIR] [--per-class N] [--seeds 0,1,2] [--views N] [--json PATH]`
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ADAPT_DEFAULTS, imageSeed, type AdaptOptions } from '../src/engine/adapt/adapt.js';
import { PromptSet } from '../src/engine/adapt/prompts.js';
import type { AdaptMethod as AnyMethod } from '../src/shared/domain/adaptation.js';

/** The per-image methods this benchmark compares (no learned prompt involved). */
type AdaptMethod = Extract<AnyMethod, 'zeroshot' | 'tpt' | 'metatpt'>;
import { ClipEncoder } from '../src/engine/clip/encoder.js';
import { ClipModel } from '../src/engine/clip/model.js';
import { Engine } from '../src/engine/runtime.js';
import { EMBEDDED_MODEL_DIR } from '../tools/synthetic/embedded.js';
import { SHIFTS, type RenderStyle } from '../tools/synthetic/render.js';
import { SHAPES } from '../tools/synthetic/scenes.js';
import { positiveInt } from './lib/args.js';
import { renderShapeSamples, TEST_SCENES_SEED } from './lib/shapes.js';
import { median } from './lib/measure.js';
import { machineLine, markdownTable } from './lib/report.js';
import { Classifier } from '../src/engine/adapt/classifier.js';

const STYLES: readonly RenderStyle[] = ['clean', ...SHIFTS];
const METHODS: readonly AdaptMethod[] = ['zeroshot', 'tpt', 'metatpt'];

/** Accuracy (%) of each method on each style, one value per view seed. */
type Accuracies = Record<RenderStyle | 'all shifts', Record<AdaptMethod, number[]>>;

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: readonly number[]): number =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const meanSd = (xs: readonly number[]): string => `${mean(xs).toFixed(1)} ± ${sd(xs).toFixed(1)}`;

function parseSeeds(text: string): number[] {
  const seeds = text.split(',').map((part) => Number(part.trim()));
  if (seeds.length === 0 || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new Error(`--seeds: expected comma-separated non-negative integers, got "${text}"`);
  }
  return seeds;
}

export interface EmbeddedAccuracyOptions {
  modelDir: string;
  perClass: number;
  views: number;
  seeds: number[];
}

export interface EmbeddedAccuracyResult {
  options: EmbeddedAccuracyOptions;
  /** Held-out scenes per style. */
  scenesPerStyle: number;
  accuracies: Accuracies;
  /** Wall-clock milliseconds of each adaptImage call, per method. */
  milliseconds: Record<AdaptMethod, number[]>;
}

/** The styles each table row pools. */
const GROUPS: [RenderStyle | 'all shifts', readonly RenderStyle[]][] = [
  ...STYLES.map((style): [RenderStyle, RenderStyle[]] => [style, [style]]),
  ['all shifts', SHIFTS],
];

export async function runEmbeddedAccuracy(options: EmbeddedAccuracyOptions): Promise<EmbeddedAccuracyResult> {
  const { modelDir, perClass, views, seeds } = options;
  const engine = new Engine({ provider: 'cpu', log: () => {} });
  const encoder = new ClipEncoder(ClipModel.load(modelDir), engine, 16);
  const prompts = await PromptSet.create(encoder, SHAPES);
  const classifier = new Classifier(prompts);
  const samples = await renderShapeSamples(prompts, TEST_SCENES_SEED, perClass, STYLES);
  const adaptOptions = (method: AdaptMethod, seed: number, key: string): AdaptOptions => ({
    ...ADAPT_DEFAULTS,
    method,
    views,
    seed: imageSeed(seed, key),
    meta: { ...ADAPT_DEFAULTS.meta, innerSteps: 1, variant: 'two-stage' },
  });
  // Zero-shot does not depend on the view seed: it is computed once and counted for every seed.
  const runSeed = (method: AdaptMethod, seed: number) => (method === 'zeroshot' ? seeds[0] : seed);

  const correct = new Map<string, number>();
  const milliseconds: Record<AdaptMethod, number[]> = { zeroshot: [], tpt: [], metatpt: [] };
  for (const seed of seeds) {
    for (const method of METHODS) {
      for (const sample of samples) {
        const key = `${method}:${runSeed(method, seed)}:${sample.key}`;
        if (correct.has(key)) continue;
        const started = performance.now();
        const result = await classifier.run(
          sample.image,
          adaptOptions(method, runSeed(method, seed), sample.key),
        );
        milliseconds[method].push(performance.now() - started);
        correct.set(key, result.label === sample.label ? 1 : 0);
      }
    }
  }
  await engine.dispose();

  const accuracies = {} as Accuracies;
  for (const [group, styles] of GROUPS) {
    const members = samples.filter((s) => styles.includes(s.style));
    accuracies[group] = Object.fromEntries(
      METHODS.map((method) => [
        method,
        seeds.map((seed) => {
          const hits = members.reduce(
            (n, s) => n + correct.get(`${method}:${runSeed(method, seed)}:${s.key}`)!,
            0,
          );
          return (100 * hits) / members.length;
        }),
      ]),
    ) as Record<AdaptMethod, number[]>;
  }
  return { options, scenesPerStyle: samples.length / STYLES.length, accuracies, milliseconds };
}

export function embeddedAccuracyReport(result: EmbeddedAccuracyResult): string {
  const { options, scenesPerStyle, accuracies, milliseconds } = result;
  const rows = GROUPS.map(([group, styles]) => [
    group,
    scenesPerStyle * styles.length,
    ...METHODS.map((method) => meanSd(accuracies[group][method])),
  ]);
  return [
    `## Embedded model accuracy (${options.modelDir})\n`,
    machineLine(),
    `\n${scenesPerStyle} held-out scenes (${options.perClass} per class, ${SHAPES.length} classes) in each style; ` +
      `prompt "a photo of a {}."; ${options.views} views; TPT 1 step; MetaTPT K_in = 1, two-stage; ` +
      `view seeds ${options.seeds.join(', ')} (mean ± sd over seeds, %; chance ${(100 / SHAPES.length).toFixed(0)} %).\n`,
    markdownTable(['style', 'images', 'zero-shot', 'TPT', 'MetaTPT'], rows, 0),
    `\nPer image (median ms): ${METHODS.map((m) => `${m} ${median(milliseconds[m]).toFixed(0)}`).join(', ')}`,
  ].join('\n');
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: EMBEDDED_MODEL_DIR },
      'per-class': { type: 'string' },
      seeds: { type: 'string', default: '0,1,2' },
      views: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const result = await runEmbeddedAccuracy({
    modelDir: values.model,
    perClass: positiveInt('per-class', values['per-class'], 10),
    views: positiveInt('views', values.views, 64),
    seeds: parseSeeds(values.seeds),
  });
  console.log(embeddedAccuracyReport(result));
  if (values.json) {
    const { options, accuracies } = result;
    writeFileSync(values.json, JSON.stringify({ ...options, accuracies }, null, 2) + '\n');
  }
}
