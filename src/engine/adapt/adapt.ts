// Per-image ("episodic") classification: zero-shot, TPT and MetaTPT. The prompt, the views and the
// optimiser state start afresh for every image.
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { clipPreprocess, imageToSquareSource } from '../image/preprocess.js';
import { AdamW } from '../optim.js';
import { Random, seedFrom } from '../random.js';
import { entropies, selectConfident, softmax } from './losses.js';
import { META_DEFAULTS, ViewGraphs, type MetaOptions, type ViewSource } from './metatpt.js';
import { normalizeRowsHost, type PromptSet } from './prompts.js';
import { scaledSimilarities, TPT_DEFAULTS, tuneContext, type TptOptions } from './tpt.js';
import { clampTheta, tptViewThetas, type Theta } from './views.js';

export type AdaptMethod = 'zeroshot' | 'tpt' | 'metatpt';

export interface AdaptOptions {
  method: AdaptMethod;
  /** Views per image, the original included (the paper: 64). */
  views: number;
  seed: number;
  tpt: TptOptions;
  meta: MetaOptions;
  /** Adapt only images whose zero-shot entropy is above this; null adapts every image. */
  minEntropy: number | null;
  /** Views per vision-tower run (bounds memory; does not change results). */
  chunk: number;
}

export const ADAPT_DEFAULTS: AdaptOptions = {
  method: 'tpt',
  views: 64,
  seed: 0,
  tpt: TPT_DEFAULTS,
  meta: META_DEFAULTS,
  minEntropy: null,
  chunk: 16,
};

/** Named settings: the papers' own, and a CPU-friendly one with fewer views. */
export const PRESETS = {
  paper: { views: 64, tpt: TPT_DEFAULTS, meta: META_DEFAULTS },
  'fast-cpu': { views: 16, tpt: TPT_DEFAULTS, meta: { ...META_DEFAULTS, innerSteps: 1 } },
} satisfies Record<string, Partial<AdaptOptions>>;

export interface ViewRecord {
  theta: Theta;
  /** Entropy of the view's prediction when views were selected. */
  entropy: number;
  selected: boolean;
}

export interface AdaptResult {
  method: AdaptMethod;
  /** False when the method is zero-shot or the image was confident enough to skip adaptation. */
  adapted: boolean;
  label: number;
  probs: Float64Array;
  entropy: number;
  zeroShotLabel: number;
  zeroShotProbs: Float64Array;
  zeroShotEntropy: number;
  /** The tuned context vectors [nCtx, D]. */
  ctx?: Float32Array;
  views?: ViewRecord[];
  losses: { inner: number[]; outer: number[] };
  /** Milliseconds per phase. */
  timings: Record<string, number>;
  options: AdaptOptions;
}

/** What adaptation needs of one image: the CLIP-preprocessed original and a square source for views. */
export interface PreparedImage {
  original: Float32Array;
  source: ViewSource;
  width: number;
  height: number;
}

/**
 * Decodes and preprocesses an image. The source is twice the model's input size so that large crops
 * are downsampled from real detail and small ones are not upsampled from a thumbnail.
 */
export async function prepareImage(
  pathOrImage: string | DecodedImage,
  prompts: PromptSet,
): Promise<PreparedImage> {
  const { preprocess, config } = prompts.encoder.model;
  const image = typeof pathOrImage === 'string' ? await decodeImage(pathOrImage) : pathOrImage;
  const side = 2 * config.vision.imageSize;
  const [original, source] = await Promise.all([
    clipPreprocess(image, preprocess),
    imageToSquareSource(image, side),
  ]);
  return { original, source: { data: source.data, side }, width: image.width, height: image.height };
}

/** A per-image seed from the run's seed and a stable key (the image's path), so runs resume identically. */
export function imageSeed(seed: number, key: string): number {
  return seedFrom(seed, key);
}

const argmax = (xs: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
};

const entropyOf = (p: Float64Array): number => -p.reduce((h, q) => (q > 0 ? h + q * Math.log(q) : h), 0);

/** Wall-clock milliseconds spent in each named phase. */
class PhaseTimer {
  readonly timings: Record<string, number> = {};

  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.timings[phase] = (this.timings[phase] ?? 0) + performance.now() - start;
    }
  }
}

export async function adaptImage(
  prompts: PromptSet,
  image: PreparedImage,
  options: AdaptOptions,
  signal?: AbortSignal,
): Promise<AdaptResult> {
  const { encoder } = prompts;
  const width = encoder.projectionDim;
  const scale = encoder.model.logitScale;
  const timer = new PhaseTimer();

  const anchor = await timer.time('encodeOriginal', async () =>
    normalizeRowsHost(await encoder.encodeImages(image.original, 1), width),
  );
  const zeroShotProbs = softmax(scaledSimilarities(anchor, prompts.textFeatures, width, scale));
  const zeroShot = {
    zeroShotLabel: argmax(zeroShotProbs),
    zeroShotProbs,
    zeroShotEntropy: entropyOf(zeroShotProbs),
  };
  const skip =
    options.method === 'zeroshot' ||
    (options.minEntropy !== null && zeroShot.zeroShotEntropy <= options.minEntropy);
  if (skip) {
    return {
      method: options.method,
      adapted: false,
      label: zeroShot.zeroShotLabel,
      probs: zeroShotProbs,
      entropy: zeroShot.zeroShotEntropy,
      ...zeroShot,
      losses: { inner: [], outer: [] },
      timings: timer.timings,
      options,
    };
  }

  const graphs = new ViewGraphs(prompts, image.source);
  const meta =
    options.method === 'metatpt'
      ? options.meta
      : { ...options.meta, innerSteps: 0, variant: 'two-stage' as const };
  const initial = tptViewThetas(new Random(options.seed), options.views, image.width, image.height).slice(1);
  const thetas = initial.map((t) => [...t] as Theta);
  const viewWeights = [1, meta.featureWeight, meta.thetaWeight].map((w) => w / Math.max(1, initial.length));
  const innerLosses: number[] = [];

  // Inner loop on θ, text features held fixed at the initial context. The one-stage variant has no
  // separate inner loop: θ moves in its joint steps.
  const innerSteps = meta.variant === 'one-stage' ? 0 : meta.innerSteps;
  const thetaOptimizer = new AdamW([thetas.length * 6], { lr: meta.innerLr });
  for (let step = 0; step < innerSteps; step++) {
    signal?.throwIfAborted();
    const gradients = new Float32Array(thetas.length * 6);
    let loss = 0;
    await timer.time('innerLoop', () =>
      forChunks(thetas.length, options.chunk, async (start, end) => {
        const fn = await graphs.innerStep(end - start);
        const out = await fn.run({
          source: image.source.data,
          theta: thetas.slice(start, end).flat(),
          theta0: initial.slice(start, end).flat(),
          text: prompts.contextFeatures,
          anchor,
          weights: viewWeights,
        });
        loss += (out.loss.data as Float32Array)[0];
        gradients.set(out.grad.data as Float32Array, start * 6);
      }),
    );
    innerLosses.push(loss);
    const flat = Float32Array.from(thetas.flat());
    if (meta.variant === 'second-order') {
      // Plain gradient steps, the same ones the meta-gradient graph differentiates through.
      flat.forEach((v, i) => (flat[i] = v - meta.innerLr * gradients[i]));
    } else {
      thetaOptimizer.update([flat], [gradients]);
    }
    thetas.forEach((_, v) => {
      const updated = flat.subarray(v * 6, v * 6 + 6);
      thetas[v] = meta.variant === 'second-order' ? ([...updated] as Theta) : clampTheta(updated);
    });
  }

  const viewFeatures = await timer.time('encodeViews', async () => {
    const features = new Float32Array((thetas.length + 1) * width);
    features.set(anchor);
    await forChunks(thetas.length, options.chunk, async (start, end) => {
      signal?.throwIfAborted();
      const fn = await graphs.encode(end - start);
      const out = await fn.run({ source: image.source.data, theta: thetas.slice(start, end).flat() });
      features.set(out.features.data as Float32Array, (start + 1) * width);
    });
    return features;
  });

  signal?.throwIfAborted();
  const tuned = await timer.time('tunePrompt', () =>
    meta.variant === 'two-stage'
      ? tuneContext(prompts, viewFeatures, options.tpt).then((t): Tuned => ({ ...t, thetas }))
      : tuneJointly(
          prompts,
          graphs,
          image.source,
          viewFeatures,
          anchor,
          initial,
          thetas,
          meta,
          options,
          viewWeights,
        ),
  );

  const probs = softmax(scaledSimilarities(anchor, tuned.textFeatures, width, scale));
  const allThetas: Theta[] = [[1, 0, 0, 0, 1, 0], ...tuned.thetas];
  const selected = new Set(tuned.selected);
  return {
    method: options.method,
    adapted: true,
    label: argmax(probs),
    probs,
    entropy: entropyOf(probs),
    ...zeroShot,
    ctx: tuned.ctx,
    views: allThetas.map((theta, v) => ({
      theta,
      entropy: tuned.viewEntropies[v],
      selected: selected.has(v),
    })),
    losses: { inner: innerLosses, outer: tuned.losses },
    timings: timer.timings,
    options,
  };
}

interface Tuned {
  selected: number[];
  viewEntropies: Float64Array;
  losses: number[];
  ctx: Float32Array;
  textFeatures: Float32Array;
  thetas: Theta[];
}

/**
 * One-stage (θ and context take joint steps on one loss) and second-order (the context's gradient
 * flows through differentiable inner steps from θ₀) variants. Views are selected once, on step 0,
 * with the initial context, as in TPT.
 */
async function tuneJointly(
  prompts: PromptSet,
  graphs: ViewGraphs,
  source: ViewSource,
  viewFeatures: Float32Array,
  anchor: Float32Array,
  initial: Theta[],
  thetas: Theta[],
  meta: MetaOptions,
  options: AdaptOptions,
  viewWeights: number[],
): Promise<Tuned> {
  const width = prompts.encoder.projectionDim;
  const views = viewFeatures.length / width;
  const viewEntropies = entropies(
    scaledSimilarities(viewFeatures, prompts.contextFeatures, width, prompts.encoder.model.logitScale),
    views,
  );
  const selected = selectConfident(viewEntropies, options.tpt.selectRatio);
  const warped = selected.filter((v) => v > 0).map((v) => v - 1);
  const secondOrder = meta.variant === 'second-order';
  const ctx = Float32Array.from(prompts.ctxInit);
  const { lr, beta1, beta2, eps, weightDecay } = options.tpt;
  const ctxOptimizer = new AdamW([ctx.length], { lr, beta1, beta2, eps, weightDecay });
  const thetaOptimizer = new AdamW([warped.length * 6], { lr: meta.innerLr });
  const learned = Float32Array.from(warped.flatMap((v) => (secondOrder ? initial[v] : thetas[v])));
  const losses: number[] = [];
  const fn = await graphs.outerStep(warped.length, selected.includes(0), secondOrder ? meta.innerSteps : 0);
  for (let step = 0; step < options.tpt.steps; step++) {
    const out = await fn.run({
      source: source.data,
      theta: learned,
      theta0: warped.flatMap((v) => initial[v]),
      ids: prompts.ids,
      eot: prompts.eot,
      ctx,
      anchor,
      weights: viewWeights,
      outerWeights: secondOrder ? [meta.innerLr, 0, 0] : [0, meta.featureWeight, meta.thetaWeight],
    });
    losses.push((out.tpt.data as Float32Array)[0]);
    ctxOptimizer.update([ctx], [out.gradCtx.data as Float32Array]);
    if (!secondOrder) {
      thetaOptimizer.update([learned], [out.gradTheta.data as Float32Array]);
      warped.forEach((v, i) => learned.set(clampTheta(learned.subarray(i * 6, i * 6 + 6)), i * 6));
    }
  }
  const finalThetas = thetas.map((t) => [...t] as Theta);
  if (!secondOrder)
    warped.forEach((v, i) => (finalThetas[v] = [...learned.subarray(i * 6, i * 6 + 6)] as Theta));
  const textFeatures = normalizeRowsHost(await prompts.encoder.encodeText(prompts.tokens, { ctx }), width);
  return { selected, viewEntropies, losses, ctx, textFeatures, thetas: finalThetas };
}

async function forChunks(
  count: number,
  chunk: number,
  work: (start: number, end: number) => Promise<void>,
): Promise<void> {
  for (let start = 0; start < count; start += chunk) await work(start, Math.min(count, start + chunk));
}
