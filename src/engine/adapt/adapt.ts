// Per-image classification: zero-shot, TPT and MetaTPT ("episodic": the prompt, the views and the
// optimiser state start afresh for every image), and classification with a learned prompt (CoOp,
// Self-TPT's stage 3, and Self-TPT-v, which averages over the image's views without a backward pass).
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { clipPreprocess, imageToSquareSource } from '../image/preprocess.js';
import { Random, seedFrom } from '../random.js';
import { ViewLearner, type MetaOptions, type ViewSource } from './metatpt.js';
import type { PromptSet } from './prompts.js';
import { TPT_DEFAULTS, tuneContext, type TptOptions } from './tpt.js';
import { IDENTITY_THETA, tptViewThetas, type Theta } from './views.js';
import {
  DEFAULT_SETTINGS,
  LEARNED_PROMPT_METHODS,
  type AdaptMethod,
  type AdaptSettings,
  type VisionPrecision,
} from '../../shared/domain/adaptation.js';
import {
  argmax,
  averageSoftmax,
  entropies,
  entropy,
  normalizeRowsHost,
  scaledSimilarities,
  softmax,
} from '../host-math.js';

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
  /** AugMix on every view but the original, as the official TPT code does on fine-grained datasets. */
  augmix: boolean;
  /**
   * Arithmetic of the vision tower where no gradient flows (the original, the views TPT tunes on);
   * MetaTPT's inner loop, which differentiates through the tower, stays fp32.
   */
  precision: VisionPrecision;
}

/**
 * The engine's options for resolved settings (src/shared/domain/adaptation.ts): the settings grouped
 * by the loop they drive, with TPT's fixed AdamW constants added.
 */
export function adaptOptions(settings: AdaptSettings): AdaptOptions {
  const { method, views, seed, minEntropy, chunk, augmix, precision } = settings;
  const { steps, lr, selectRatio, innerSteps, innerLr, innerOptimizer, featureWeight, thetaWeight, variant } =
    settings;
  return {
    method,
    views,
    seed,
    minEntropy,
    chunk,
    augmix,
    precision,
    tpt: { ...TPT_DEFAULTS, steps, lr, selectRatio },
    meta: { innerSteps, innerLr, innerOptimizer, featureWeight, thetaWeight, variant },
  };
}

/** TPT with the papers' settings. */
export const ADAPT_DEFAULTS: AdaptOptions = adaptOptions({ ...DEFAULT_SETTINGS, method: 'tpt' });

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
  /** Unit features [P] of the original image: with a class set's text features they give zero-shot scores. */
  imageFeatures: Float32Array;
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
 * Larger photos are shrunk while decoding (16.8 MP, 4096² — more than any CLIP input or view source
 * needs), which bounds a worker's memory per image at about 50 MB of pixels.
 */
const PREPARE_MAX_PIXELS = 4096 * 4096;

/**
 * Decodes and preprocesses an image. The source is twice the model's input size so that large crops
 * are downsampled from real detail and small ones are not upsampled from a thumbnail. Memory is
 * bounded for any size and aspect ratio (see decodeImage's maxPixels and clipPreprocess).
 */
export async function prepareImage(
  pathOrImage: string | DecodedImage,
  prompts: PromptSet,
): Promise<PreparedImage> {
  const { preprocess, config } = prompts.encoder.model;
  const image =
    typeof pathOrImage === 'string'
      ? await decodeImage(pathOrImage, { maxPixels: PREPARE_MAX_PIXELS })
      : pathOrImage;
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
    normalizeRowsHost(await encoder.encodeImages(image.original, 1, { precision: options.precision }), width),
  );
  const zeroShotProbs = softmax(scaledSimilarities(anchor, prompts.textFeatures, width, scale));
  const zeroShot = {
    imageFeatures: anchor,
    zeroShotLabel: argmax(zeroShotProbs),
    zeroShotProbs,
    zeroShotEntropy: entropy(zeroShotProbs),
  };
  const skip =
    options.method === 'zeroshot' ||
    (options.minEntropy !== null && zeroShot.zeroShotEntropy <= options.minEntropy);
  if (skip || (LEARNED_PROMPT_METHODS.includes(options.method) && options.method !== 'selftpt-v')) {
    const learned = !skip;
    if (learned && !prompts.learnedContext)
      throw new Error(`method '${options.method}' needs the class set's learned prompt`);
    const probs = learned
      ? softmax(scaledSimilarities(anchor, prompts.contextFeatures, width, scale))
      : zeroShotProbs;
    return {
      method: options.method,
      adapted: learned,
      label: argmax(probs),
      probs,
      entropy: entropy(probs),
      ...zeroShot,
      losses: { inner: [], outer: [] },
      timings: timer.timings,
      options,
    };
  }

  const meta =
    options.method === 'metatpt'
      ? options.meta
      : { ...options.meta, innerSteps: 0, variant: 'two-stage' as const };
  const initial = tptViewThetas(new Random(options.seed), options.views, image.width, image.height).slice(1);
  const learner = new ViewLearner(prompts, image.source, anchor, initial, meta, options.chunk);

  const innerLosses = await timer.time('innerLoop', () => learner.learnViews(signal));
  const augmixRng = options.augmix ? new Random(seedFrom(options.seed, 'augmix')) : undefined;
  const viewFeatures = await timer.time('encodeViews', () =>
    learner.features(signal, augmixRng, options.precision),
  );
  signal?.throwIfAborted();
  if (options.method === 'selftpt-v') {
    if (!prompts.learnedContext) throw new Error(`method 'selftpt-v' needs the class set's learned prompt`);
    const viewLogits = scaledSimilarities(viewFeatures, prompts.contextFeatures, width, scale);
    const viewProbs = averageSoftmax(viewLogits, options.views);
    const viewEntropies = entropies(viewLogits, options.views);
    return {
      method: options.method,
      adapted: true,
      label: argmax(viewProbs),
      probs: viewProbs,
      entropy: entropy(viewProbs),
      ...zeroShot,
      views: [IDENTITY_THETA, ...learner.thetas].map((theta, v) => ({
        theta,
        entropy: viewEntropies[v],
        selected: true,
      })),
      losses: { inner: [], outer: [] },
      timings: timer.timings,
      options,
    };
  }
  const tuned = await timer.time('tunePrompt', () =>
    meta.variant === 'two-stage'
      ? tuneContext(prompts, viewFeatures, options.tpt).then((t) => ({ ...t, thetas: learner.thetas }))
      : learner.tuneJointly(viewFeatures, options.tpt),
  );

  const probs = softmax(scaledSimilarities(anchor, tuned.textFeatures, width, scale));
  const allThetas: Theta[] = [IDENTITY_THETA, ...tuned.thetas];
  const selected = new Set(tuned.selected);
  return {
    method: options.method,
    adapted: true,
    label: argmax(probs),
    probs,
    entropy: entropy(probs),
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
