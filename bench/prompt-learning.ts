// Prompts learned from labels (CoOp; Self-TPT, Zhu et al. 2024) measured in four parts, one command:
//   stage2     Self-TPT's stage 2 (CPT steps on the class names, no images) for 100 ImageNet names on
//              the ViT-B/16-shaped random model: the time a class-set edit costs (target < 20 s);
//   learning   learning CoOp and Self-TPT from 160 labels (10 per class) on the embedded demo model,
//              image features cached as in the product (target < 60 s);
//   throughput images/s of Self-TPT (and CoOp) classification against zero-shot, interleaved in the
//              same run, on the embedded model and the ViT-B/16-shaped one (target ≥ 0.9×);
//   runstart   a Self-TPT run's start (until its engine worker can classify) for a class set edited
//              since its prompt was learned, on the embedded demo model, through the backend's run
//              processors and stage-2 cache: with the adaptation cached vs computed at the start;
//   sweep      the learning settings the papers leave open, tried on the source labels' held-out split
//              (chosen there, never on test);
//   accuracy   zero-shot, CoOp, Self-TPT, Self-TPT-v, TPT, TPT + CoOp init and MetaTPT + CoOp init on
//              the adaptation-value benchmark's test split (13 scenes per class in each of the five
//              shifts), learned from 16 labelled source scenes per class of a disjoint stream (shifts
//              in turn, as a user's reviewed images would be); accuracy with Wilson 95 % intervals and
//              each method against zero-shot on the same images (fixed / broken, exact McNemar p),
//              with src/shared/evaluation.ts.
// `npm run bench -- prompt-learning [--only stage2,learning,runstart,throughput,sweep,accuracy] [--model DIR]
//   [--per-class 16] [--test-per-class 13] [--views 32] [--cases zeroshot-v,selftpt-v,...]`
// --cases: the accuracy part's methods by key (zero-shot, the baseline, always runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ENGINE_WORKER_SCRIPT } from '../src/backend/engine-host/host.js';
import { runSpecOf } from '../src/backend/jobs/executor.js';
import { createRunProcessors } from '../src/backend/run-processors.js';
import { createStage2Service } from '../src/backend/services/stage2.js';
import { openStore } from '../src/backend/store/index.js';
import {
  ADAPT_DEFAULTS,
  adaptImage,
  imageSeed,
  prepareImage,
  type PreparedImage,
} from '../src/engine/adapt/adapt.js';
import type { LabelledFeatures } from '../src/engine/adapt/coop.js';
import {
  flatLearnSettings,
  learnPrompt,
  resolveLearnSettings,
  type LearnSettings,
} from '../src/engine/adapt/learn.js';
import { PromptSet } from '../src/engine/adapt/prompts.js';
import {
  adaptToClasses,
  initProjectionHead,
  SELFTPT_DEFAULTS,
  STAGE2_TEXT_BUCKETS,
  selfTptDefaults,
} from '../src/engine/adapt/selftpt.js';
import { ClipEncoder, planTextBuckets } from '../src/engine/clip/encoder.js';
import { ClipModel } from '../src/engine/clip/model.js';
import { Random } from '../src/engine/random.js';
import { Engine } from '../src/engine/runtime.js';
import {
  DEFAULT_CONTEXT_INIT,
  DEFAULT_TEMPLATE,
  parseAdaptSettings,
  type AdaptMethod,
} from '../src/shared/domain/adaptation.js';
import { comparePaired, formatPValue, wilsonInterval } from '../src/shared/domain/evaluation.js';
import { EMBEDDED_MODEL_DIR } from '../tools/synthetic/embedded.js';
import { renderScene, SHIFTS } from '../tools/synthetic/render.js';
import { balancedScenes, SHAPES } from '../tools/synthetic/scenes.js';
import { positiveInt } from './lib/args.js';
import { imagenetClassNames } from './lib/classes.js';
import { interleaved, maxAbsDiff, median, timed } from './lib/measure.js';
import { ensureClipModel } from './lib/models.js';
import { machineLine, markdownTable, ratio } from './lib/report.js';
import {
  renderShapeSamples,
  TEST_SCENES_SEED,
  VALIDATION_SCENES_SEED,
  type ShapeSample,
} from './lib/shapes.js';
import { normalizeRowsHost } from '../src/engine/host-math.js';

const PARTS = ['stage2', 'learning', 'runstart', 'throughput', 'sweep', 'accuracy'] as const;
type Part = (typeof PARTS)[number];

/** Unit image features of the samples with their labels: what the product's feature cache holds. */
async function labelledFeatures(prompts: PromptSet, samples: ShapeSample[]): Promise<LabelledFeatures> {
  const { encoder } = prompts;
  const width = encoder.projectionDim;
  const features = new Float32Array(samples.length * width);
  for (const [i, s] of samples.entries()) {
    features.set(normalizeRowsHost(await encoder.encodeImages(s.image.original, 1), width), i * width);
  }
  return { features, labels: Int32Array.from(samples, (s) => s.label) };
}

/** The first `perClass` samples of each class. */
function perClassSubset(samples: ShapeSample[], perClass: number): ShapeSample[] {
  const taken = new Map<number, number>();
  return samples.filter((s) => {
    const n = taken.get(s.label) ?? 0;
    taken.set(s.label, n + 1);
    return n < perClass;
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const preciseSeconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const percentOf = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)} %`);

async function stage2Part(engine: Engine, log: (line: string) => void): Promise<string> {
  const encoder = new ClipEncoder(ClipModel.load(ensureClipModel('vit-b-16', log)), engine);
  const target = await PromptSet.create(encoder, imagenetClassNames().slice(0, 100));
  const options = selfTptDefaults(encoder.projectionDim);
  const head = initProjectionHead([encoder.projectionDim, options.headHidden, options.headOut], 0);
  const source = { ctx: target.ctxInit, head };
  // The baseline runs every prompt at the longest one's length, as stage 2 did before length buckets.
  const cases = [
    { name: 'one length', textBuckets: 1 },
    { name: 'length buckets (default)', textBuckets: STAGE2_TEXT_BUCKETS },
  ];
  const adapt = (textBuckets: number) => () => adaptToClasses(target, source, options, { textBuckets });
  const first: { ms: number; value: { ctx: Float32Array; losses: number[] } }[] = [];
  for (const c of cases) first.push(await timed(adapt(c.textBuckets)));
  const warm = await interleaved(
    { one: adapt(1), buckets: adapt(STAGE2_TEXT_BUCKETS) },
    { rounds: 3, warmupRounds: 0 },
  );
  const medians = [median(warm.one), median(warm.buckets)];
  const rows = cases.map((c, k) => [
    c.name,
    planTextBuckets(target.eot, c.textBuckets).buckets.reduce((n, b) => n + b.rows * b.length, 0),
    seconds(first[k].ms),
    seconds(medians[k]),
    ratio(medians[0], medians[k]),
  ]);
  return (
    `### Self-TPT stage 2: 100 ImageNet class names, ViT-B/16-shaped random model\n\n` +
    `${options.adaptSteps} CPT steps at lr ${options.adaptLr} (three class-token arrangements of 100 prompts ` +
    `through the 12-layer text tower, forward and backward to the context; the hand-written prompts' ` +
    `features are fixed inputs). First call: compiling the step's graph and running it; then medians of 3 ` +
    `interleaved runs. The two give the same CPT losses at every step to ` +
    `${(maxAbsDiff(first[0].value.losses, first[1].value.losses) / first[0].value.losses[0]).toExponential(1)} ` +
    `(relative) and contexts within ${maxAbsDiff(first[0].value.ctx, first[1].value.ctx).toExponential(1)}. ` +
    `Target < 20 s.\n\n` +
    markdownTable(
      ['text passes', 'token positions per arrangement', 'first call', 'median', 'speed-up'],
      rows,
    ) +
    '\n'
  );
}

/**
 * A Self-TPT run's start on an edited class set (the 16 shapes renamed), through createRunProcessors
 * and the stage-2 service as the backend wires them: the adapted context read from the store's cache,
 * or computed at the start (cache emptied before each). Each start loads the model in a fresh worker
 * (the processors are closed after each), as the first run after the app starts does.
 */
async function runStartPart(prompts: PromptSet, source: ShapeSample[], modelDir: string): Promise<string> {
  const data = await labelledFeatures(prompts, perClassSubset(source, 10));
  const learned = await learnPrompt(
    prompts,
    data,
    'selftpt',
    resolveLearnSettings({}, prompts.encoder.projectionDim),
  );
  const dir = mkdtempSync(join(tmpdir(), 'metatpt-bench-'));
  const store = openStore(join(dir, 'bench.db'));
  const processors = createRunProcessors({ provider: 'cpu', workerScript: ENGINE_WORKER_SCRIPT });
  try {
    const model = store.models.upsert({ name: 'demo', dir: modelDir, config: {} });
    const classSet = (name: string, names: readonly string[]) =>
      store.classSets.create({
        name,
        template: DEFAULT_TEMPLATE,
        contextInit: DEFAULT_CONTEXT_INIT,
        classes: names.map((n) => ({ name: n, prompt: null })),
      });
    const sourceSet = classSet('source', SHAPES);
    const prompt = store.learnedPrompts.add({
      classSetId: sourceSet.id,
      modelId: model.id,
      method: 'selftpt',
      template: DEFAULT_TEMPLATE,
      classNames: [...SHAPES],
      ctx: learned.ctx,
      nCtx: learned.ctx.length / prompts.encoder.model.config.text.hiddenSize,
      selfTpt: learned.selfTpt,
      settings: flatLearnSettings(learned.options),
      labels: [],
      accuracy: learned.accuracy,
      history: [],
      nearestTokens: [],
    });
    const edited = classSet(
      'edited',
      SHAPES.map((n) => `${n} shape`),
    );
    const spec = {
      runId: 0,
      settings: parseAdaptSettings({ method: 'selftpt', learnedPrompt: prompt.id }),
      ...runSpecOf(store, { modelId: model.id, classSetId: edited.id, learnedPromptId: prompt.id }),
    };
    const stage2 = createStage2Service({ store, stage2: processors.stage2 });
    const start = async () => {
      const processor = await processors.open(await stage2.adaptedSpec(spec));
      await processor.close();
      await processors.close();
    };
    const emptyCache = store.db.prepare('DELETE FROM selftpt_adaptations');
    const runs = await interleaved(
      {
        computed: async () => {
          emptyCache.run();
          await start();
        },
        cached: start,
      },
      { rounds: 5, warmupRounds: 1 },
    );
    const cachedSeconds = store.selfTptAdaptations.get(prompt.id, model.id, spec.classSet)!.seconds;
    return (
      `### Self-TPT run start on an edited class set (16 renamed classes), embedded demo model

` +
      `From the run's start until its engine worker can classify (model loaded in a fresh worker ` +
      `each time), medians of 5 interleaved starts; ${processors.stage2Runs} stage-2 jobs ran ` +
      `(one per computed start). Stage 2 itself (as the cache records it, words worker included): ` +
      `${preciseSeconds(cachedSeconds * 1000)}.\n\n` +
      markdownTable(
        ['adapted context', 'run start (median)', 'range', 'speed-up'],
        (['computed', 'cached'] as const).map((k) => [
          k === 'computed' ? 'computed at the start (no cache)' : 'read from the cache',
          preciseSeconds(median(runs[k])),
          `${preciseSeconds(Math.min(...runs[k]))}–${preciseSeconds(Math.max(...runs[k]))}`,
          ratio(median(runs.computed), median(runs[k])),
        ]),
      ) +
      '\n'
    );
  } finally {
    await processors.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function learningPart(prompts: PromptSet, source: ShapeSample[]): Promise<string> {
  const labelled = perClassSubset(source, 10);
  const encode = await timed(() => labelledFeatures(prompts, labelled));
  const settings = resolveLearnSettings({}, prompts.encoder.projectionDim);
  const rows = [];
  for (const method of ['coop', 'selftpt'] as const) {
    // Cold: this engine compiles the method's graphs (a fresh engine worker's first learning); warm:
    // the same learning again, graphs cached.
    const learn = () => learnPrompt(prompts, encode.value, method, settings);
    const cold = await timed(learn);
    const { ms, value } = await timed(learn);
    rows.push([
      method === 'coop' ? 'CoOp' : 'Self-TPT (stages 1 + 2)',
      seconds(cold.ms),
      seconds(ms),
      value.fit.history.length - 1,
      value.fit.bestEpoch,
      `${percentOf(value.accuracy.validationBefore)} → ${percentOf(value.accuracy.validationAfter)}`,
    ]);
  }
  return (
    `### Learning from ${labelled.length} labels (10 per class), embedded demo model\n\n` +
    `Encoding the ${labelled.length} images once (what the feature cache saves): ${seconds(encode.ms)}. ` +
    `Default settings; target < 60 s.\n\n` +
    markdownTable(
      ['method', 'learning time, cold', 'warm', 'epochs run', 'best epoch', 'held-out accuracy'],
      rows,
    ) +
    '\n'
  );
}

/** Median ms per image of zero-shot, CoOp-style and Self-TPT classification, interleaved. */
async function throughputOf(prompts: PromptSet, images: PreparedImage[], rounds: number) {
  // Any learned context costs the same at classification time: the image against fixed text features.
  const learned = await PromptSet.create(prompts.encoder, prompts.classNames, { ctx: prompts.ctxInit });
  let next = 0;
  const image = () => images[next++ % images.length];
  const classify = (p: PromptSet, method: AdaptMethod) => () =>
    adaptImage(p, image(), { ...ADAPT_DEFAULTS, method });
  const samples = await interleaved(
    { zeroshot: classify(prompts, 'zeroshot'), selftpt: classify(learned, 'selftpt') },
    { rounds, block: 5, warmupRounds: 2 },
  );
  return { zeroshot: median(samples.zeroshot), selftpt: median(samples.selftpt) };
}

async function throughputPart(
  engine: Engine,
  prompts: PromptSet,
  test: ShapeSample[],
  log: (line: string) => void,
): Promise<string> {
  const embedded = await throughputOf(
    prompts,
    test.slice(0, 100).map((s) => s.image),
    100,
  );
  const vitb = new ClipEncoder(ClipModel.load(ensureClipModel('vit-b-16', log)), engine);
  const vitbPrompts = await PromptSet.create(vitb, imagenetClassNames().slice(0, 100));
  const side = vitb.model.config.vision.imageSize;
  const images = [];
  for (const [index, scene] of balancedScenes(new Random(TEST_SCENES_SEED), 1).slice(0, 4).entries()) {
    const decoded = await renderScene(scene, { side, noiseSeed: index });
    images.push(await prepareImage(decoded, vitbPrompts));
  }
  const rows: [string, { zeroshot: number; selftpt: number }][] = [
    ['embedded demo model (16 shapes)', embedded],
    ['ViT-B/16-shaped (100 classes)', await throughputOf(vitbPrompts, images, 10)],
  ];
  return (
    `### Classification throughput: Self-TPT against zero-shot, same run, interleaved\n\n` +
    `Per image from the decoded, resized image (vision tower + class scores); medians of 5-image blocks.\n\n` +
    markdownTable(
      ['model', 'zero-shot images/s', 'Self-TPT images/s', 'Self-TPT / zero-shot'],
      rows.map(([name, t]) => [name, 1000 / t.zeroshot, 1000 / t.selftpt, ratio(t.zeroshot, t.selftpt)]),
    ) +
    '\n'
  );
}

/** Learning settings tried by --sweep, scored on the source labels' held-out split. */
const SWEEP: { name: string; method: 'coop' | 'selftpt'; settings: LearnSettings }[] = [
  ...[2e-3, 5e-3, 2e-2].map((lr) => ({ name: `CoOp lr ${lr}`, method: 'coop' as const, settings: { lr } })),
  // τ on stage 1 alone.
  ...[0.07, 0.5].map((temperature) => ({
    name: `Self-TPT τ ${temperature}, no stage 2`,
    method: 'selftpt' as const,
    settings: { temperature, adaptSteps: 0 },
  })),
  // Stage 2's length, its cost at class-set edits. Adam moves every coordinate by about lr per step
  // and the context vectors are ~0.02 in size: large rates undo the stage-1 prompt.
  ...[
    [1, 1e-4],
    [2, 1e-4],
    [3, 1e-4],
    [5, 1e-4],
    [10, 1e-4],
    [3, 3e-4],
    [10, 5e-4],
  ].map(([adaptSteps, adaptLr]) => ({
    name: `Self-TPT τ ${SELFTPT_DEFAULTS.temperature}, stage-2 steps ${adaptSteps} at lr ${adaptLr}`,
    method: 'selftpt' as const,
    settings: { adaptSteps, adaptLr },
  })),
];

async function sweepPart(prompts: PromptSet, source: ShapeSample[], log: (l: string) => void) {
  const data = await labelledFeatures(prompts, source);
  const rows = [];
  for (const trial of SWEEP) {
    const settings = resolveLearnSettings(trial.settings, prompts.encoder.projectionDim);
    const { ms, value } = await timed(() => learnPrompt(prompts, data, trial.method, settings));
    rows.push([
      trial.name,
      value.fit.bestEpoch,
      percentOf(value.accuracy.validationBefore),
      percentOf(value.accuracy.validationAfter),
      seconds(ms),
    ]);
    log(`sweep: ${rows.at(-1)!.join(' | ')}`);
  }
  return (
    `### Settings sweep: ${source.length} labelled source images, their held-out split (chosen here, never on test)\n\n` +
    markdownTable(['settings', 'best epoch', 'held-out before', 'held-out after', 'time'], rows) +
    '\n'
  );
}

interface MethodCase {
  /** For --cases. */
  key: string;
  name: string;
  method: AdaptMethod;
  prompts: PromptSet;
}

async function accuracyPart(
  prompts: PromptSet,
  source: ShapeSample[],
  test: ShapeSample[],
  views: number,
  only: string[] | null,
  log: (line: string) => void,
): Promise<string> {
  const { encoder } = prompts;
  const data = await labelledFeatures(prompts, source);
  const out = [
    `### Accuracy: ${source.length} labelled source images (${source.length / SHAPES.length} per class), ` +
      `${test.length} test images\n`,
  ];
  const settings = resolveLearnSettings({}, encoder.projectionDim);
  const coop = await learnPrompt(prompts, data, 'coop', settings);
  const selftpt = await learnPrompt(prompts, data, 'selftpt', settings);
  const coopPrompts = await PromptSet.create(encoder, SHAPES, { ctx: coop.ctx });
  const selftptPrompts = await PromptSet.create(encoder, SHAPES, { ctx: selftpt.ctx });
  // The hand-written prompt as a "learned" context: Self-TPT-v's view averaging without learning.
  const handWritten = await PromptSet.create(encoder, SHAPES, { ctx: prompts.ctxInit });
  const all: MethodCase[] = [
    { key: 'zeroshot', name: 'zero-shot', method: 'zeroshot', prompts },
    { key: 'coop', name: 'CoOp', method: 'coop', prompts: coopPrompts },
    { key: 'selftpt', name: 'Self-TPT', method: 'selftpt', prompts: selftptPrompts },
    { key: 'selftpt-v', name: 'Self-TPT-v', method: 'selftpt-v', prompts: selftptPrompts },
    {
      key: 'zeroshot-v',
      name: 'zero-shot averaged over views (control)',
      method: 'selftpt-v',
      prompts: handWritten,
    },
    { key: 'tpt', name: 'TPT', method: 'tpt', prompts },
    { key: 'tpt-coop', name: 'TPT + CoOp init', method: 'tpt', prompts: coopPrompts },
    { key: 'metatpt-coop', name: 'MetaTPT + CoOp init', method: 'metatpt', prompts: coopPrompts },
  ];
  const cases = all.filter((c) => c.key === 'zeroshot' || !only || only.includes(c.key));
  const outcomes = cases.map(() => [] as { predicted: number; confidence: number; ms: number }[]);
  // Interleaved per image, so that machine load drifts over all methods alike.
  for (const [index, sample] of test.entries()) {
    for (const [k, c] of cases.entries()) {
      const adaptOptions = { ...ADAPT_DEFAULTS, method: c.method, views };
      const seed = imageSeed(0, sample.key);
      const { ms, value } = await timed(() => adaptImage(c.prompts, sample.image, { ...adaptOptions, seed }));
      outcomes[k].push({ predicted: value.label, confidence: Math.max(...value.probs), ms });
    }
    if ((index + 1) % 100 === 0) log(`accuracy: ${index + 1}/${test.length} images`);
  }
  const rows = cases.map((c, k) => {
    const correct = outcomes[k].filter((o, i) => o.predicted === test[i].label).length;
    const ci = wilsonInterval(correct, test.length);
    const paired = comparePaired(
      test.map((s, i) => ({
        truth: s.label,
        predicted: outcomes[k][i].predicted,
        confidence: outcomes[k][i].confidence,
        baselinePredicted: outcomes[0][i].predicted,
        baselineConfidence: outcomes[0][i].confidence,
      })),
    );
    return [
      c.name,
      `${((100 * correct) / test.length).toFixed(1)} [${(100 * ci.low).toFixed(1)}, ${(100 * ci.high).toFixed(1)}]`,
      k === 0 ? '–' : `${paired.fixed} / ${paired.broken}`,
      k === 0 ? '–' : formatPValue(paired.mcnemarP),
      1000 / median(outcomes[k].slice(1).map((o) => o.ms)),
    ];
  });
  out.push(
    markdownTable(
      ['method', 'accuracy % [95 % CI]', 'fixed / broken vs zero-shot', 'McNemar p', 'images/s'],
      rows,
    ),
  );
  out.push(
    `\nHeld-out accuracy of the source labels (20 % per class), hand-written prompt → learned: CoOp ` +
      `${percentOf(coop.accuracy.validationBefore)} → ${percentOf(coop.accuracy.validationAfter)}, Self-TPT ` +
      `${percentOf(selftpt.accuracy.validationBefore)} → ${percentOf(selftpt.accuracy.validationAfter)}. ` +
      `${views} views per image for TPT, MetaTPT and Self-TPT-v (paper settings otherwise), view seed 0.\n`,
  );
  return out.join('\n');
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: 'string', default: PARTS.join(',') },
      model: { type: 'string', default: EMBEDDED_MODEL_DIR },
      'per-class': { type: 'string' },
      'test-per-class': { type: 'string' },
      views: { type: 'string' },
      cases: { type: 'string' },
    },
  });
  const parts = values.only.split(',');
  const unknown = parts.filter((p) => !PARTS.includes(p as Part));
  if (unknown.length > 0) throw new Error(`--only: unknown part ${unknown.join(', ')} (${PARTS.join(', ')})`);
  const perClass = positiveInt('per-class', values['per-class'], 16);
  const testPerClass = positiveInt('test-per-class', values['test-per-class'], 13);
  const views = positiveInt('views', values.views, 32);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const engine = new Engine({ provider: 'cpu', log: () => {} });
  const prompts = await PromptSet.create(new ClipEncoder(ClipModel.load(values.model), engine, 16), SHAPES);
  const needs = (part: Part) => parts.includes(part);
  // Labelled source scenes come from the adaptation-value benchmark's validation stream, each in one
  // shift in turn (as a user's reviewed images would be); the test split is its test split.
  const source = await renderShapeSamples(prompts, VALIDATION_SCENES_SEED, perClass, SHIFTS, {
    inTurn: true,
  });
  const test =
    needs('throughput') || needs('accuracy')
      ? await renderShapeSamples(prompts, TEST_SCENES_SEED, testPerClass, SHIFTS)
      : [];
  const out = [`## prompt-learning (issue 12)\n`, machineLine(), `Model ${values.model}.\n`];
  if (needs('stage2')) out.push(await stage2Part(engine, log));
  if (needs('learning')) out.push(await learningPart(prompts, source));
  if (needs('runstart')) out.push(await runStartPart(prompts, source, values.model));
  if (needs('throughput')) out.push(await throughputPart(engine, prompts, test, log));
  if (needs('sweep')) out.push(await sweepPart(prompts, source, log));
  const only = values.cases?.split(',') ?? null;
  if (needs('accuracy')) out.push(await accuracyPart(prompts, source, test, views, only, log));
  await engine.dispose();
  console.log(out.join('\n'));
}
