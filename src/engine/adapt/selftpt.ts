// Self-TPT (Zhu et al., "Efficient Test-Time Prompt Tuning for Vision-Language Models", arXiv
// 2408.05775). Adaptation moves from each image to each class set:
//   stage 1, on labelled source images: cross-entropy + Contrastive Prompt Tuning (CPT) + a gradient-
//     matching loss that aligns CPT's context gradient with a moving average of the cross-entropy's;
//   stage 2, once per class set, no images: a few steps of CPT alone on the target class names;
//   stage 3: zero-shot classification with the adapted context (adapt.ts; Self-TPT-v averages the
//     probabilities over each image's views, forward only).
// CPT renders every class as text "views": the class tokens after the learnable context (CoOp's "end"),
// between its halves ("middle"), before it ("front"), and the hand-written prompt; a small projection
// head maps their features, and a supervised InfoNCE pulls a class's views together and pushes other
// classes' apart. Only the text tower is run; the gradient-matching loss is a gradient of gradients.
import { planTextBuckets } from '../clip/encoder.js';
import { clipLogits, normalizeRows, type ClipModel, type TextBucket } from '../clip/model.js';
import { grad } from '../grad.js';
import { tracedFamily, type Inputs } from '../runtime.js';
import { AdamW } from '../optim.js';
import { Random } from '../random.js';
import { concat, constant, equal, linear, zerosLike, type Tensor } from '../tensor.js';
import {
  COOP_DEFAULTS,
  crossEntropy,
  fitPrompt,
  oneHot,
  type FitHooks,
  type LabelledFeatures,
  type PromptFit,
  type PromptObjective,
  type PromptTrainingOptions,
} from './coop.js';
import type { PromptSet } from './prompts.js';

/** Where the class tokens sit relative to the learnable context, in the order of cptArrangements. */
export const CPT_ARRANGEMENTS = ['end', 'middle', 'front'] as const;

export interface SelfTptOptions {
  /** Stage 1's loop (epochs, early stopping, lr, batch, held-out fraction, seed). */
  training: PromptTrainingOptions;
  /** InfoNCE temperature τ. */
  temperature: number;
  /** Projection head P → hidden → out (ReLU between). */
  headHidden: number;
  headOut: number;
  /** Weight of the gradient-matching loss in stage 1. */
  matchWeight: number;
  /** Decay β of the moving average of the cross-entropy gradient: m ← β·m + (1 − β)·g. */
  matchDecay: number;
  /** Stage 2: CPT steps on the target class names, and their AdamW learning rate. */
  adaptSteps: number;
  adaptLr: number;
}

/**
 * Settings the paper leaves open (docs/methods.md). Chosen on the held-out split of 256 labelled demo
 * source images (`npm run bench -- prompt-learning --only sweep`, never on test), retrained embedded
 * model: τ = 0.07, the usual SupCon value (held-out 62.5 %, tied with 0.5; hand-written prompt 60.4 %);
 * stage 2 3 steps at lr 3e-4 — every length tried (1–10 steps at 1e-4, 3 at 3e-4, 10 at 5e-4) kept
 * stage 1's 62.5 %, so the cost decides, stage 2 being what a class-set edit waits for: AdamW moves
 * each coordinate by about lr per step, so this moves the context as far as ten steps at 1e-4 with
 * 30 % of the text passes. Not swept: the head (hidden P, out P/4, a small two-layer head, sized by
 * the caller), λ = 1 (the paper sums the losses) and β = 0.9 (roughly the last 10 batches, a few
 * epochs of 16-shot labels).
 */
export const SELFTPT_DEFAULTS: Omit<SelfTptOptions, 'headHidden' | 'headOut'> = {
  training: COOP_DEFAULTS,
  temperature: 0.07,
  matchWeight: 1,
  matchDecay: 0.9,
  adaptSteps: 3,
  adaptLr: 3e-4,
};

/** The defaults with the head sized for feature width `width` (P). */
export function selfTptDefaults(width: number): SelfTptOptions {
  return { ...SELFTPT_DEFAULTS, headHidden: width, headOut: Math.max(8, Math.floor(width / 4)) };
}

/** The projection head's weights, PyTorch Linear layout ([out, in] weights). */
export interface ProjectionHead {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
  /** [P, hidden, out]. */
  sizes: [number, number, number];
}

/** A freshly initialised head: weights ~ N(0, 1/fan_in), biases 0. */
export function initProjectionHead(sizes: [number, number, number], seed: number): ProjectionHead {
  const rng = new Random(seed);
  const [p, hidden, out] = sizes;
  return {
    w1: rng.normalArray(hidden * p, 1 / Math.sqrt(p)),
    b1: new Float32Array(hidden),
    w2: rng.normalArray(out * hidden, 1 / Math.sqrt(hidden)),
    b2: new Float32Array(out),
    sizes,
  };
}

/**
 * Indices [3, C, L] into the table [token embeddings of `ids` as C·L rows; the context as nCtx rows]
 * that render each class in the arrangements of CPT_ARRANGEMENTS. Positions 1..nCtx of `ids` are the
 * context's; everything after them up to end-of-text (the class name and any suffix such as ".") is
 * the class part; the end-of-text token and what follows keep their places.
 * Throws when a prompt has no tokens after the context.
 */
export function cptArrangements(
  ids: Int32Array,
  eot: Int32Array,
  length: number,
  nCtx: number,
): BigInt64Array {
  const classes = eot.length;
  const ctxRow = classes * length;
  const half = Math.floor(nCtx / 2);
  const out = new BigInt64Array(3 * classes * length);
  for (let c = 0; c < classes; c++) {
    const base = c * length;
    const named = eot[c] - 1 - nCtx;
    if (named < 1) throw new Error(`prompt ${c} has no class tokens after its ${nCtx} context tokens`);
    const name = (k: number): number => base + nCtx + 1 + k;
    const ctx = (j: number): number => ctxRow + j;
    const orders = [
      [...range(nCtx).map(ctx), ...range(named).map(name)],
      [...range(half).map(ctx), ...range(named).map(name), ...range(nCtx - half).map((j) => ctx(half + j))],
      [...range(named).map(name), ...range(nCtx).map(ctx)],
    ];
    orders.forEach((order, a) => {
      const row = (a * classes + c) * length;
      for (let p = 0; p < length; p++) {
        const inner = p >= 1 && p < eot[c];
        out[row + p] = BigInt(inner ? order[p - 1] : base + p);
      }
    });
  }
  return out;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Token embeddings [C, L, D] of one arrangement: `index` [C, L] picks rows of [tokens as C·L rows; ctx]. */
export function arrangedEmbeddings(tokens: Tensor, ctx: Tensor, index: Tensor): Tensor {
  const [classes, length, width] = tokens.shape;
  const rows = classes * length;
  const nCtx = ctx.shape[0];
  // Token rows by a gather (the context's rows read zeros there), context rows by a one-hot product:
  // the context's gradient is then a matmul, not a scatter-add over indices that repeat at every prompt.
  const fromTokens = concat([tokens.reshape([rows, width]), zerosLike(ctx)], 0).gather(index, 0);
  const ctxRows = constant(
    BigInt64Array.from({ length: nCtx }, (_, j) => BigInt(rows + j)),
    [1, nCtx],
    'int64',
  );
  const oneHot = equal(index.cast('int64').reshape([rows, 1]), ctxRows).cast(ctx.dtype);
  return fromTokens.add(oneHot.matmul(ctx).reshape([classes, length, width]));
}

/** The head applied to rows [N, P]: W2·relu(W1·x + b1) + b2. */
export function projectionHead(x: Tensor, [w1, b1, w2, b2]: readonly Tensor[]): Tensor {
  return linear(linear(x, w1, b1).clip(0, 3e38), w2, b2);
}

/**
 * CPT's supervised InfoNCE over V views of C classes: `views` is a list of V feature matrices
 * [C, P] (row c is class c). Each row's positives are the other views of its class; the denominator
 * runs over every other row. Mean over anchors and positives.
 */
export function contrastiveLoss(
  views: readonly Tensor[],
  head: readonly Tensor[],
  temperature: number,
): Tensor {
  const v = views.length;
  const classes = views[0].shape[0];
  const rows = v * classes;
  const z = normalizeRows(projectionHead(normalizeRows(concat(views, 0)), head));
  const self = new Float32Array(rows * rows);
  const positive = new Float32Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      if (i === j) self[i * rows + j] = -1e9;
      else if (i % classes === j % classes) positive[i * rows + j] = 1;
    }
  }
  const dtype = z.dtype;
  const logProbs = z
    .matmul(z.mT)
    .mul(1 / temperature)
    .add(constant(self, [rows, rows]).cast(dtype))
    .logSoftmax(-1);
  return logProbs
    .mul(constant(positive, [rows, rows]).cast(dtype))
    .sum()
    .mul(-1 / (rows * (v - 1)));
}

/** 1 − cos(g, reference) over all entries; zero gradient (not NaN) while the reference is still zero. */
export function gradientMatchingLoss(g: Tensor, reference: Tensor): Tensor {
  const dot = g.mul(reference).sum();
  const norms = g.square().sum().sqrt().mul(reference.square().sum().sqrt()).add(1e-12);
  return dot.div(norms).neg().add(1);
}

/**
 * CPT on a prompt set's classes with context `ctx`: the three arrangements plus the hand-written
 * prompts' features `hand` [C, P]. Returns the loss and the "end" arrangement's features (CoOp's
 * prompt, the one that classifies). `buckets` run the text tower on groups of rows at their own
 * lengths (ClipModel.encodeTextInBuckets); none: all rows at the full length.
 */
function cptOnClasses(
  model: ClipModel,
  t: { ids: Tensor; eot: Tensor; ctx: Tensor; arrangements: Tensor; hand: Tensor; head: Tensor[] },
  temperature: number,
  buckets?: readonly TextBucket[],
): { loss: Tensor; end: Tensor } {
  const [classes, length] = t.ids.shape;
  const tokens = model.embedTokens(t.ids);
  const features = CPT_ARRANGEMENTS.map((_, a) =>
    model.encodeTextInBuckets(
      arrangedEmbeddings(tokens, t.ctx, t.arrangements.slice(0, a, a + 1).reshape([classes, length])),
      t.eot,
      buckets ?? [{ rows: classes, length }],
    ),
  );
  return { loss: contrastiveLoss([...features, t.hand], t.head, temperature), end: features[0] };
}

type ClassInputs = 'ids' | 'eot' | 'ctx' | 'arrangements' | 'hand' | 'w1' | 'b1' | 'w2' | 'b2';

/**
 * Stage 1's step at CPT temperature τ: CE + CPT + matchWeight·(1 − cos(∇ctx CPT, average)) and its
 * gradients with respect to the context and the head (g0..g4), plus ∇ctx CE for the moving average.
 */
const selfTptStage1 = tracedFamily(
  'selftpt-stage1',
  (model: ClipModel, temperature: number) =>
    ({
      images,
      targets,
      average,
      matchWeight,
      w1,
      b1,
      w2,
      b2,
      ...t
    }: Inputs<ClassInputs | 'images' | 'targets' | 'average' | 'matchWeight'>) => {
      const headTensors = [w1, b1, w2, b2];
      const cpt = cptOnClasses(model, { ...t, head: headTensors }, temperature);
      const ce = crossEntropy(clipLogits(images, cpt.end, model.logitScale), targets);
      const [ceGrad] = grad(ce, [t.ctx]);
      const [cptGrad] = grad(cpt.loss, [t.ctx]);
      const match = gradientMatchingLoss(cptGrad, average);
      const loss = ce.add(cpt.loss).add(match.mul(matchWeight));
      const grads = grad(loss, [t.ctx, ...headTensors]);
      return {
        loss,
        ce,
        cpt: cpt.loss,
        match,
        ceGrad,
        g0: grads[0],
        g1: grads[1],
        g2: grads[2],
        g3: grads[3],
        g4: grads[4],
      };
    },
);

/**
 * Stage 2's step at CPT temperature τ: CPT on the class names and its gradient w.r.t. the context.
 * `buckets` is the JSON of the TextBucket[] the rows come in (a family argument must be a primitive).
 */
const selfTptStage2 = tracedFamily(
  'selftpt-stage2',
  (model: ClipModel, temperature: number, buckets: string) =>
    ({ w1, b1, w2, b2, ...t }: Inputs<ClassInputs>) => {
      const head = [w1, b1, w2, b2];
      const { loss } = cptOnClasses(model, { ...t, head }, temperature, JSON.parse(buckets) as TextBucket[]);
      return { loss, grad: grad(loss, [t.ctx])[0] };
    },
);

function graphInputs(prompts: PromptSet, head: ProjectionHead) {
  const { model } = prompts.encoder;
  const [p, hidden, out] = head.sizes;
  const [c, l] = [prompts.classCount, prompts.length];
  return {
    ids: { shape: [c, l], dtype: 'int64' as const },
    eot: { shape: [c], dtype: 'int64' as const },
    arrangements: { shape: [3, c, l], dtype: 'int64' as const },
    hand: { shape: [c, p] },
    ctx: { shape: [prompts.nCtx, model.config.text.hiddenSize] },
    w1: { shape: [hidden, p] },
    b1: { shape: [hidden] },
    w2: { shape: [out, hidden] },
    b2: { shape: [out] },
  };
}

function classFeeds(prompts: PromptSet) {
  return {
    ids: prompts.ids,
    eot: prompts.eot,
    arrangements: cptArrangements(prompts.ids, prompts.eot, prompts.length, prompts.nCtx),
    hand: prompts.textFeatures,
  };
}

/** A Self-TPT stage-1 result: the source-trained context and projection head. */
export interface SelfTptSource {
  ctx: Float32Array;
  head: ProjectionHead;
  fit: PromptFit;
}

/**
 * Stage 1: learns the context (from the prompt set's initial context) and the projection head on
 * labelled features with CE + CPT + λ·(1 − cos(∇ctx CPT, m)), m the moving average of ∇ctx CE.
 * The moving average is the objective's state, updated after each step.
 */
export async function trainSelfTpt(
  prompts: PromptSet,
  data: LabelledFeatures,
  options: SelfTptOptions,
  hooks: FitHooks = {},
): Promise<SelfTptSource> {
  const { encoder } = prompts;
  const { model } = encoder;
  if (prompts.nCtx === 0) throw new Error('prompt learning needs a template with words before {} to learn');
  const head = initProjectionHead(
    [encoder.projectionDim, options.headHidden, options.headOut],
    options.training.seed,
  );
  const ctx = Float32Array.from(prompts.ctxInit);
  const params = [ctx, head.w1, head.b1, head.w2, head.b2];
  const average = new Float32Array(ctx.length);
  const fixed = classFeeds(prompts);
  const objective: PromptObjective = {
    params,
    async step(batch) {
      const fn = await encoder.engine.compile(selfTptStage1(model, options.temperature), {
        inputs: {
          ...graphInputs(prompts, head),
          images: { shape: [batch.labels.length, encoder.projectionDim] },
          targets: { shape: [batch.labels.length, prompts.classCount] },
          average: { shape: [prompts.nCtx, model.config.text.hiddenSize] },
          matchWeight: { shape: [] },
        },
      });
      const out = await fn.run({
        ...fixed,
        ctx,
        w1: head.w1,
        b1: head.b1,
        w2: head.w2,
        b2: head.b2,
        images: batch.features,
        targets: oneHot(batch.labels, prompts.classCount),
        average,
        matchWeight: [options.matchWeight],
      });
      const ceGrad = out.ceGrad.data as Float32Array;
      for (let i = 0; i < average.length; i++)
        average[i] = options.matchDecay * average[i] + (1 - options.matchDecay) * ceGrad[i];
      const value = (name: 'loss' | 'ce' | 'cpt' | 'match'): number => (out[name].data as Float32Array)[0];
      return {
        loss: value('loss'),
        parts: { ce: value('ce'), cpt: value('cpt'), match: value('match') },
        grads: [out.g0, out.g1, out.g2, out.g3, out.g4].map((g) => g.data as Float32Array),
      };
    },
  };
  const fit = await fitPrompt(prompts, data, objective, options.training, hooks);
  return {
    ctx: fit.params[0],
    head: { ...head, w1: fit.params[1], b1: fit.params[2], w2: fit.params[3], b2: fit.params[4] },
    fit,
  };
}

/**
 * Most length buckets of stage 2's text passes. On 100 ImageNet names (prompts of 8–14 tokens) three
 * compute 996 token positions where one computes 1400 (BENCHMARKS.md "prompt-learning").
 */
export const STAGE2_TEXT_BUCKETS = 3;

/**
 * Stage 2: `adaptSteps` AdamW steps of CPT alone on the prompt set's class names, from `source`'s
 * context, head frozen. No images. Returns the adapted context [nCtx, D] and CPT's loss before each
 * step. The classes run sorted by prompt length, in at most `textBuckets` buckets of their own
 * lengths (planTextBuckets): CPT's loss does not depend on the order of the classes, so the result is
 * that of one pass in class order. `onStep` hears after each step (1-based) with the step count.
 * Rejects when `signal` aborts.
 */
export async function adaptToClasses(
  prompts: PromptSet,
  source: Pick<SelfTptSource, 'ctx' | 'head'>,
  options: Pick<SelfTptOptions, 'temperature' | 'adaptSteps' | 'adaptLr'>,
  {
    signal,
    textBuckets = STAGE2_TEXT_BUCKETS,
    onStep,
  }: { signal?: AbortSignal; textBuckets?: number; onStep?: (step: number, steps: number) => void } = {},
): Promise<{ ctx: Float32Array; losses: number[] }> {
  const { encoder, length, nCtx } = prompts;
  const { model } = encoder;
  const { order, buckets } = planTextBuckets(prompts.eot, textBuckets);
  const fn = await encoder.engine.compile(
    selfTptStage2(model, options.temperature, JSON.stringify(buckets)),
    { inputs: graphInputs(prompts, source.head) },
  );
  const ids = rowsInOrder(prompts.ids, order, length);
  const eot = rowsInOrder(prompts.eot, order, 1);
  const ctx = Float32Array.from(source.ctx);
  const optimizer = new AdamW([ctx.length], { lr: options.adaptLr });
  const feeds = {
    ids,
    eot,
    arrangements: cptArrangements(ids, eot, length, nCtx),
    hand: rowsInOrder(prompts.textFeatures, order, encoder.projectionDim),
    w1: source.head.w1,
    b1: source.head.b1,
    w2: source.head.w2,
    b2: source.head.b2,
  };
  const losses: number[] = [];
  for (let i = 0; i < options.adaptSteps; i++) {
    signal?.throwIfAborted();
    const out = await fn.run({ ...feeds, ctx });
    losses.push((out.loss.data as Float32Array)[0]);
    optimizer.update([ctx], [out.grad.data as Float32Array]);
    onStep?.(i + 1, options.adaptSteps);
  }
  return { ctx, losses };
}

/** Rows of `width` values of `data` in the order `order`. */
function rowsInOrder<T extends Int32Array | Float32Array>(data: T, order: Int32Array, width: number): T {
  const out = data.slice(0, order.length * width) as T;
  order.forEach((row, i) => out.set(data.subarray(row * width, (row + 1) * width), i * width));
  return out;
}
