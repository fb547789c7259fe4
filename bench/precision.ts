// Issue 18: the int8 vision tower (dynamic quantisation of the linear layers) against fp32, measured
// in one run: seconds per view and per TPT image on the ViT-B/16-shaped model (the two precisions
// interleaved), how far int8 moves unit features and probabilities from fp32 (golden model and
// ViT-B/16 shapes), and label agreement and accuracy with the embedded model on the demo collection
// and on the adaptation benchmark's test split (clean and shifted; bench/lib/shapes.ts).
// `npm run bench -- precision [--only speed|accuracy] [--model DIR] [--classes N] [--views N]
//   [--rounds N] [--demo-tpt N] [--per-class N]`
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ADAPT_DEFAULTS,
  imageSeed,
  type AdaptResult,
  type PreparedImage,
} from '../src/engine/adapt/adapt.js';
import { ViewGraphs } from '../src/engine/adapt/metatpt.js';
import { PromptSet } from '../src/engine/adapt/prompts.js';
import { tptViewThetas } from '../src/engine/adapt/views.js';
import { ClipEncoder } from '../src/engine/clip/encoder.js';
import { ClipModel } from '../src/engine/clip/model.js';
import { VISION_PRECISIONS, type VisionPrecision } from '../src/shared/domain/adaptation.js';
import { Random } from '../src/engine/random.js';
import { Engine } from '../src/engine/runtime.js';
import { EMBEDDED_MODEL_DIR } from '../tools/synthetic/embedded.js';
import { GOLDEN_MODEL_DIR, goldenIndex, loadGoldenTensor } from '../test/fixtures/golden/load.js';
import { positiveInt } from './lib/args.js';
import { imagenetClassNames } from './lib/classes.js';
import { syntheticImage } from './lib/images.js';
import { absDiffStats, interleaved, median } from './lib/measure.js';
import { ensureClipModel } from './lib/models.js';
import { machineLine, markdownTable, ratio } from './lib/report.js';
import { argmax, normalizeRowsHost, scaledSimilarities, softmax } from '../src/engine/host-math.js';
import { Classifier } from '../src/engine/adapt/classifier.js';
import { SHIFTS } from '../tools/synthetic/render.js';
import { SHAPES } from '../tools/synthetic/scenes.js';
import { renderShapeSamples, TEST_SCENES_SEED } from './lib/shapes.js';

const DEMO_DIR = new URL('../resources/demo/', import.meta.url).pathname;

type PerPrecision<T> = Record<VisionPrecision, T>;

type Deviation = ReturnType<typeof absDiffStats>;

/** Softmax rows [N, C] of unit image features [N, P] against unit text features [C, P]. */
function probabilities(
  features: Float32Array,
  text: Float32Array,
  width: number,
  scale: number,
): Float64Array {
  const rows = features.length / width;
  const classes = text.length / width;
  const out = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const row = features.subarray(r * width, (r + 1) * width);
    out.set(softmax(scaledSimilarities(row, text, width, scale)), r * classes);
  }
  return out;
}

interface DeviationRow {
  model: string;
  rows: number;
  features: Deviation;
  probs: Deviation;
  sameLabels: number;
}

function deviationRow(
  model: string,
  unit: PerPrecision<Float32Array>,
  text: Float32Array,
  width: number,
  scale: number,
): DeviationRow {
  const [p32, p8] = [
    probabilities(unit.fp32, text, width, scale),
    probabilities(unit.int8, text, width, scale),
  ];
  const classes = text.length / width;
  const rows = unit.fp32.length / width;
  let sameLabels = 0;
  for (let r = 0; r < rows; r++) {
    const label = (p: Float64Array) => argmax(p.subarray(r * classes, (r + 1) * classes));
    if (label(p32) === label(p8)) sameLabels++;
  }
  return {
    model,
    rows,
    features: absDiffStats(unit.int8, unit.fp32),
    probs: absDiffStats(p8, p32),
    sameLabels,
  };
}

/** The golden model's pixels and prompts at both precisions. */
async function goldenDeviation(): Promise<DeviationRow> {
  const model = ClipModel.load(GOLDEN_MODEL_DIR);
  const encoder = new ClipEncoder(model, new Engine({ provider: 'cpu', log: () => {} }));
  const width = encoder.projectionDim;
  const pixels = loadGoldenTensor('pixel_values');
  const count = pixels.shape[0];
  const unit = {} as PerPrecision<Float32Array>;
  for (const precision of VISION_PRECISIONS) {
    const raw = await encoder.encodeImages(pixels.data as Float32Array, count, { precision });
    unit[precision] = normalizeRowsHost(raw, width);
  }
  const text = normalizeRowsHost(
    await encoder.encodeText(model.tokenizer.encode(goldenIndex.prompts)),
    width,
  );
  return deviationRow('golden (tiny)', unit, text, width, model.logitScale);
}

interface SpeedResult {
  /** Milliseconds per view (chunks of `chunk` views through the TPT view graph), each round. */
  viewMs: PerPrecision<number[]>;
  /** Milliseconds per TPT image, each round. */
  tptMs: PerPrecision<number[]>;
  /** The encodeViews phase of those TPT images. */
  tptViewsMs: PerPrecision<number[]>;
  deviation: DeviationRow;
  tptSameLabel: number;
  tptProbs: Deviation;
}

async function speed(
  modelDir: string,
  classNames: readonly string[],
  views: number,
  rounds: number,
  log: (line: string) => void,
): Promise<SpeedResult> {
  const model = ClipModel.load(modelDir);
  const prompts = await PromptSet.create(
    new ClipEncoder(model, new Engine({ provider: 'cpu', log: () => {} })),
    classNames,
  );
  const classifier = new Classifier(prompts);
  const width = prompts.encoder.projectionDim;
  const image = await classifier.prepare(syntheticImage(0));
  const { chunk } = ADAPT_DEFAULTS;
  const thetas = tptViewThetas(new Random(1), chunk + 1, image.width, image.height)
    .slice(1)
    .flat();
  const graphs = new ViewGraphs(prompts, image.source);
  const viewFeatures = {} as PerPrecision<Float32Array>;
  const encodeViews = (precision: VisionPrecision) => async () => {
    const fn = await graphs.encode(chunk, precision);
    viewFeatures[precision] = (await fn.run({ source: image.source.data, theta: thetas })).features
      .data as Float32Array;
  };
  log(`view encoding: ${rounds} rounds of ${chunk} views per precision`);
  const viewSamples = await interleaved({ fp32: encodeViews('fp32'), int8: encodeViews('int8') }, { rounds });

  const tpt = {} as PerPrecision<AdaptResult>;
  const tptImage = (precision: VisionPrecision, prepared: PreparedImage) => async () => {
    tpt[precision] = await classifier.run(prepared, {
      ...ADAPT_DEFAULTS,
      method: 'tpt',
      views,
      seed: imageSeed(0, 'bench-image-0'),
      precision,
    });
  };
  const tptViewsMs: PerPrecision<number[]> = { fp32: [], int8: [] };
  const timedTpt = (precision: VisionPrecision) => async () => {
    await tptImage(precision, image)();
    tptViewsMs[precision].push(tpt[precision].timings.encodeViews);
  };
  log(`TPT: ${rounds} rounds of one image with ${views} views per precision`);
  const tptSamples = await interleaved({ fp32: timedTpt('fp32'), int8: timedTpt('int8') }, { rounds });
  for (const precision of VISION_PRECISIONS) tptViewsMs[precision].splice(0, 1); // the warm-up round

  const perView = (samples: number[]) => samples.map((ms) => ms / chunk);
  return {
    viewMs: { fp32: perView(viewSamples.fp32), int8: perView(viewSamples.int8) },
    tptMs: tptSamples,
    tptViewsMs,
    deviation: deviationRow(
      'ViT-B/16 shapes (random)',
      viewFeatures,
      prompts.textFeatures,
      width,
      model.logitScale,
    ),
    tptSameLabel: tpt.fp32.label === tpt.int8.label ? 1 : 0,
    tptProbs: absDiffStats(tpt.int8.probs, tpt.fp32.probs),
  };
}

type Tally = PerPrecision<{ correct: number; labels: number[] }>;

interface AccuracyResult {
  images: number;
  zeroShot: Tally;
  tptImages: number;
  tpt: Tally;
  /** The adaptation test split (clean and every shift): zero-shot and TPT. */
  splitImages: number;
  split: Tally;
  splitTpt: Tally;
}

const emptyTally = (): Tally => ({ fp32: { correct: 0, labels: [] }, int8: { correct: 0, labels: [] } });

function demoSamples(): { path: string; label: string }[] {
  const lines = readFileSync(join(DEMO_DIR, 'ground-truth.csv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((line) => {
    const [file, label] = line.split(',');
    return { path: join(DEMO_DIR, file), label };
  });
}

/**
 * Runs each of `methods` on one image at both precisions (views seeded by `seedKey`) and counts the
 * label in that method's tally, right when it is `truth`.
 */
async function tally(
  classifier: Classifier,
  image: PreparedImage,
  methods: readonly ('zeroshot' | 'tpt')[],
  seedKey: string,
  truth: number,
  tallies: Record<'zeroshot' | 'tpt', Tally>,
): Promise<void> {
  for (const method of methods) {
    for (const precision of VISION_PRECISIONS) {
      const { label } = await classifier.run(image, {
        ...ADAPT_DEFAULTS,
        method,
        seed: imageSeed(0, seedKey),
        precision,
      });
      tallies[method][precision].labels.push(label);
      if (label === truth) tallies[method][precision].correct++;
    }
  }
}

/**
 * With the embedded model, at both precisions: zero-shot on every demo image and TPT on the first
 * `tptImages`; zero-shot and TPT on the adaptation test split (`perClass` scenes a shape, clean and
 * shifted).
 */
async function accuracy(
  tptImages: number,
  perClass: number,
  log: (line: string) => void,
): Promise<AccuracyResult> {
  const model = ClipModel.load(EMBEDDED_MODEL_DIR);
  const encoder = new ClipEncoder(model, new Engine({ provider: 'cpu', log: () => {} }));
  const classNames = readFileSync(join(DEMO_DIR, 'classes.txt'), 'utf8').trim().split('\n');
  const classifier = new Classifier(await PromptSet.create(encoder, classNames));
  const samples = demoSamples();
  const result: AccuracyResult = {
    images: samples.length,
    zeroShot: emptyTally(),
    tptImages,
    tpt: emptyTally(),
    splitImages: 0,
    split: emptyTally(),
    splitTpt: emptyTally(),
  };
  for (const [i, sample] of samples.entries()) {
    const image = await classifier.prepare(sample.path);
    const truth = classNames.indexOf(sample.label);
    const methods = i < tptImages ? (['zeroshot', 'tpt'] as const) : (['zeroshot'] as const);
    await tally(classifier, image, methods, sample.path, truth, {
      zeroshot: result.zeroShot,
      tpt: result.tpt,
    });
    if ((i + 1) % 50 === 0) log(`demo: ${i + 1}/${samples.length} images`);
  }
  const shapes = new Classifier(await PromptSet.create(encoder, SHAPES));
  const split = await renderShapeSamples(shapes.prompts, TEST_SCENES_SEED, perClass, ['clean', ...SHIFTS]);
  log(`test split: ${split.length} images`);
  for (const sample of split) {
    await tally(shapes, sample.image, ['zeroshot', 'tpt'], sample.key, sample.label, {
      zeroshot: result.split,
      tpt: result.splitTpt,
    });
  }
  result.splitImages = split.length;
  return result;
}

const agreement = (a: readonly number[], b: readonly number[]): number =>
  a.filter((label, i) => label === b[i]).length;

const pct = (k: number, n: number) => (100 * k) / n;

interface ReportInput {
  modelDir: string;
  rounds: number;
  views: number;
}

const devRow = (d: DeviationRow) => [
  d.model,
  d.rows,
  d.features.max.toExponential(2),
  d.features.mean.toExponential(2),
  d.probs.max.toExponential(2),
  d.probs.mean.toExponential(2),
  `${d.sameLabels}/${d.rows}`,
];

/** Deviation from fp32: the golden model, and the ViT-B/16-shaped views when speed was measured. */
function deviationTable(rows: DeviationRow[]): string {
  return markdownTable(
    [
      'int8 vs fp32',
      'images',
      'max \\|Δ\\| unit feature',
      'mean \\|Δ\\|',
      'max \\|Δ\\| probability',
      'mean \\|Δ\\|',
      'same label',
    ],
    rows.map(devRow),
  );
}

function speedReport(
  { viewMs, tptMs, tptViewsMs, tptSameLabel, tptProbs }: SpeedResult,
  input: ReportInput,
): string {
  const time = (label: string, samples: PerPrecision<number[]>, digits: number) => [
    label,
    (median(samples.fp32) / 1000).toFixed(digits),
    (median(samples.int8) / 1000).toFixed(digits),
    ratio(median(samples.fp32), median(samples.int8)),
  ];
  const table = markdownTable(
    [`${basename(input.modelDir)}, median of ${input.rounds} rounds`, 'fp32', 'int8', 'fp32 / int8'],
    [
      time(`s per view (TPT view graph, ${ADAPT_DEFAULTS.chunk} views a pass)`, viewMs, 3),
      time(`s per TPT image (${input.views} views)`, tptMs, 2),
      time('of which view encoding, s', tptViewsMs, 2),
    ],
  );
  const tptLine =
    `TPT on the ViT-B/16-shaped image: same label at both precisions: ${tptSameLabel ? 'yes' : 'no'}; ` +
    `probabilities max \\|Δ\\| ${tptProbs.max.toExponential(2)}, mean ${tptProbs.mean.toExponential(2)}.`;
  return [table, '', tptLine].join('\n');
}

function accuracyReport(result: AccuracyResult): string {
  const row = (what: string, n: number, r: Tally) => [
    what,
    n,
    pct(r.fp32.correct, n).toFixed(1),
    pct(r.int8.correct, n).toFixed(1),
    (pct(r.int8.correct, n) - pct(r.fp32.correct, n)).toFixed(1),
    `${agreement(r.fp32.labels, r.int8.labels)}/${n}`,
  ];
  return markdownTable(
    [
      basename(EMBEDDED_MODEL_DIR),
      'images',
      'fp32 accuracy %',
      'int8 accuracy %',
      'change, points',
      'same label',
    ],
    [
      row('demo, zero-shot', result.images, result.zeroShot),
      row(`demo, TPT (${ADAPT_DEFAULTS.views} views)`, result.tptImages, result.tpt),
      row('test split (clean + shifts), zero-shot', result.splitImages, result.split),
      row(`test split, TPT (${ADAPT_DEFAULTS.views} views)`, result.splitImages, result.splitTpt),
    ],
  );
}

const PARTS = ['speed', 'accuracy'] as const;

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      classes: { type: 'string' },
      views: { type: 'string' },
      rounds: { type: 'string' },
      'demo-tpt': { type: 'string' },
      'per-class': { type: 'string' },
      only: { type: 'string' },
    },
  });
  const log = (line: string) => console.error(line);
  const parts = values.only === undefined ? PARTS : [values.only];
  const unknown = parts.find((part) => !(PARTS as readonly string[]).includes(part));
  if (unknown) throw new Error(`--only: expected one of ${PARTS.join(', ')}, got "${unknown}"`);
  const classes = positiveInt('classes', values.classes, 100);
  const views = positiveInt('views', values.views, 16);
  const rounds = positiveInt('rounds', values.rounds, 3);
  const demoTpt = positiveInt('demo-tpt', values['demo-tpt'], 30);
  const perClass = positiveInt('per-class', values['per-class'], 13);
  const deviations = [await goldenDeviation()];
  const sections: string[] = [];
  if (parts.includes('accuracy')) sections.push(accuracyReport(await accuracy(demoTpt, perClass, log)));
  if (parts.includes('speed')) {
    const modelDir = values.model ?? ensureClipModel('vit-b-16', log);
    const result = await speed(modelDir, imagenetClassNames().slice(0, classes), views, rounds, log);
    deviations.push(result.deviation);
    sections.push(speedReport(result, { modelDir, rounds, views }));
  }
  sections.push(deviationTable(deviations));
  console.log([machineLine(), ...sections].join('\n\n'));
}
