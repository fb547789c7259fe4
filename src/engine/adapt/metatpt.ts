// The view side of MetaTPT (Lei et al., 2025), as reconstructed from the published description — the
// method section and code are not public. Each view is an affine θ applied to the source image by a
// differentiable warp; an inner loop learns θ by a self-supervised loss, and the outer loop is TPT's.
// Graphs here are compiled once per model and chunk size and run per image.
import type { VisionPrecision } from '../../shared/domain/adaptation.js';
import type { ClipVisionConfig } from '../clip/config.js';
import type { ClipModel } from '../clip/model.js';
import { normalizeRows } from '../clip/model.js';
import { tracedFamily, type CompiledFunction, type Inputs } from '../runtime.js';
import { grad } from '../grad.js';
import { concat, type Tensor } from '../tensor.js';
import { AdamW } from '../optim.js';
import type { Random } from '../random.js';
import { augmix } from './augmix.js';
import { marginalEntropy, rowEntropy, selectConfident } from './losses.js';
import { type PromptSet } from './prompts.js';
import { tuneContext, type ContextTuning, type TptOptions } from './tpt.js';
import { boundTheta, boundThetaTensor, type Theta } from './views.js';
import { normalizePixels, warpViews } from './warp.js';
import { DEFAULT_SETTINGS, type InnerOptimizer, type MetaVariant } from '../../shared/domain/adaptation.js';
import { entropies, normalizeRowsHost, scaledSimilarities } from '../host-math.js';

export interface MetaOptions {
  /** K_in: steps on the views' θ before the prompt is tuned; 0 reproduces TPT exactly. */
  innerSteps: number;
  innerLr: number;
  /**
   * How θ takes its inner steps (two-stage and one-stage; second-order always takes plain gradient
   * steps, the ones its meta-gradient differentiates through):
   * sgd: normalised gradient descent, Δθ_v = −lr · g_v / mean_u ‖g_u‖ — the mean view moves lr, and
   *   each view moves in proportion to its own gradient, so a view the loss barely cares about stays;
   * adam: Adam — its first step moves every θ entry by exactly lr (the sign of the gradient).
   */
  innerOptimizer: InnerOptimizer;
  /** λ_f: weight of 1 − cos(f_v, f_0), which keeps a view on the image's content. */
  featureWeight: number;
  /** λ_r: weight of ‖θ_v − θ_v0‖². */
  thetaWeight: number;
  /**
   * two-stage: learn θ, then tune the prompt on the learned views (the default);
   * one-stage: θ and the prompt minimise one joint loss (TPT's loss on the selected views plus the
   *   view regularisers) by alternating block steps: in each of TPT's steps θ first takes max(1, K_in)
   *   steps at the current prompt, then the prompt takes its step at the new θ;
   * second-order: the inner steps are plain gradient steps differentiated through (meta-gradient).
   */
  variant: MetaVariant;
}

/**
 * Inner loop chosen on the validation split of `npm run bench -- adaptation-value` (issue 11): one
 * normalised-SGD step of 0.03 with λ_f = 1 scored best of the two-stage grid (Adam, larger steps, three
 * steps and λ_r = 1 did not score higher), within a margin of one or two of its 80 images.
 */
export const META_DEFAULTS: MetaOptions = {
  innerSteps: DEFAULT_SETTINGS.innerSteps,
  innerLr: DEFAULT_SETTINGS.innerLr,
  innerOptimizer: DEFAULT_SETTINGS.innerOptimizer,
  featureWeight: DEFAULT_SETTINGS.featureWeight,
  thetaWeight: DEFAULT_SETTINGS.thetaWeight,
  variant: DEFAULT_SETTINGS.variant,
};

/** The source image the views are warped out of, CHW in 0..1, square. */
export interface ViewSource {
  data: Float32Array;
  side: number;
}

/**
 * Unit feature rows of the views `theta` [B, 2, 3] warped out of `source` [3, R, R]. A `precision`
 * other than fp32 is for forward-only use (it has no gradient rule).
 */
export function viewFeatures(
  model: ClipModel,
  source: Tensor,
  theta: Tensor,
  precision: VisionPrecision = 'fp32',
): Tensor {
  const { imageSize } = model.config.vision;
  const { mean, std } = model.preprocess;
  const pixels = normalizePixels(warpViews(source, theta, imageSize), mean, std);
  return normalizeRows(model.encodeImages(pixels, precision));
}

/**
 * The inner, self-supervised objective summed over a chunk of views; `weights` = [1, λ_f, λ_r] / M so
 * that chunks add up to the mean over all M warped views.
 */
export function innerObjective(
  features: Tensor,
  text: Tensor,
  anchor: Tensor,
  theta: Tensor,
  theta0: Tensor,
  weights: Tensor,
  logitScale: number,
): Tensor {
  const entropy = rowEntropy(features.matmul(text.mT).mul(logitScale)).sum();
  const drift = features.matmul(anchor.mT).neg().add(1).sum();
  const displacement = theta.sub(theta0).square().sum();
  return entropy
    .mul(weights.slice(0, 0, 1).reshape([]))
    .add(drift.mul(weights.slice(0, 1, 2).reshape([])))
    .add(displacement.mul(weights.slice(0, 2, 3).reshape([])));
}

/** The pixels (0..1) of views θ [B, 2, 3] warped out of source [3, R, R], before CLIP normalisation. */
const renderViews = tracedFamily(
  'render-views',
  (model: ClipModel) =>
    ({ source, theta }: Inputs<'source' | 'theta'>) => ({
      views: warpViews(source, theta, model.config.vision.imageSize),
    }),
);

/** Unit features [B, P] of views θ [B, 2, 3] warped out of source [3, R, R]. */
const encodeViews = tracedFamily(
  'views',
  (model: ClipModel, precision: VisionPrecision) =>
    ({ source, theta }: Inputs<'source' | 'theta'>) => ({
      features: viewFeatures(model, source, theta, precision),
    }),
);

/** One first-order inner step's loss and θ-gradient for a chunk of views, the text held fixed. */
const innerStepGraph = tracedFamily(
  'meta-inner',
  (model: ClipModel) =>
    ({
      source,
      theta,
      theta0,
      text,
      anchor,
      weights,
    }: Inputs<'source' | 'theta' | 'theta0' | 'text' | 'anchor' | 'weights'>) => {
      const features = viewFeatures(model, source, theta);
      const loss = innerObjective(features, text, anchor, theta, theta0, weights, model.logitScale);
      return { loss, grad: grad(loss, [theta])[0] };
    },
);

/**
 * The outer (TPT) loss on the selected views, plus the view regularisers weighted by
 * `outerWeights` = [inner lr, λ_f, λ_r], and its gradient with respect to the context and the views' θ.
 * With `unrolledInnerSteps` > 0 the views first take that many differentiable inner gradient steps
 * (the second-order variant), so the context also reaches the loss through the learned views.
 */
const outerStepGraph = tracedFamily(
  'meta-outer',
  (model: ClipModel, includeOriginal: boolean, unrolledInnerSteps: number) =>
    ({
      source,
      theta,
      theta0,
      ids,
      eot,
      ctx,
      anchor,
      weights,
      outerWeights,
    }: Inputs<
      'source' | 'theta' | 'theta0' | 'ids' | 'eot' | 'ctx' | 'anchor' | 'weights' | 'outerWeights'
    >) => {
      const text = normalizeRows(model.encodeTextEmbeddings(model.embedPrompts(ids, ctx), eot));
      let views = theta;
      for (let k = 0; k < unrolledInnerSteps; k++) {
        const inner = innerObjective(
          viewFeatures(model, source, views),
          text,
          anchor,
          views,
          theta0,
          weights,
          model.logitScale,
        );
        views = boundThetaTensor(
          views.sub(grad(inner, [views])[0].mul(outerWeights.slice(0, 0, 1).reshape([]))),
        );
      }
      const warped = viewFeatures(model, source, views);
      // The marginal entropy is symmetric in the views, so the original may simply come first.
      const all = includeOriginal ? concat([anchor, warped], 0) : warped;
      const tpt = marginalEntropy(all.matmul(text.mT).mul(model.logitScale));
      // One-stage joint optimisation keeps the learned views on the image with the same regularisers.
      const drift = warped
        .matmul(anchor.mT)
        .neg()
        .add(1)
        .mean()
        .mul(outerWeights.slice(0, 1, 2).reshape([]));
      const displacement = views
        .sub(theta0)
        .square()
        .sum([1, 2])
        .mean()
        .mul(outerWeights.slice(0, 2, 3).reshape([]));
      const loss = tpt.add(drift).add(displacement);
      const [gradCtx, gradTheta] = grad(loss, [ctx, theta]);
      return { loss, tpt, gradCtx, gradTheta };
    },
);

/** Compiled graphs of one model, for chunks of `batch` views. */
export class ViewGraphs {
  constructor(
    private readonly prompts: PromptSet,
    private readonly source: ViewSource,
  ) {}

  private get model(): ClipModel {
    return this.prompts.encoder.model;
  }

  private sourceSpec() {
    return { shape: [3, this.source.side, this.source.side] };
  }

  /** The pixels (0..1) of views θ [B, 2, 3], before CLIP normalisation. */
  render(batch: number): Promise<CompiledFunction<'source' | 'theta', 'views'>> {
    return this.prompts.encoder.engine.compile(renderViews(this.model), {
      inputs: { source: this.sourceSpec(), theta: { shape: [batch, 2, 3] } },
    });
  }

  /** Features (unit rows) of views θ [B, 2, 3], the vision tower at `precision` (no gradient). */
  encode(
    batch: number,
    precision: VisionPrecision = 'fp32',
  ): Promise<CompiledFunction<'source' | 'theta', 'features'>> {
    return this.prompts.encoder.engine.compile(encodeViews(this.model, precision), {
      inputs: { source: this.sourceSpec(), theta: { shape: [batch, 2, 3] } },
    });
  }

  /** One first-order inner step's loss and θ-gradient for a chunk, the text held fixed. */
  innerStep(batch: number) {
    const { projectionDim } = this.model.config;
    return this.prompts.encoder.engine.compile(innerStepGraph(this.model), {
      inputs: {
        source: this.sourceSpec(),
        theta: { shape: [batch, 2, 3] },
        theta0: { shape: [batch, 2, 3] },
        text: { shape: [this.prompts.classCount, projectionDim] },
        anchor: { shape: [1, projectionDim] },
        weights: { shape: [3] },
      },
      memoryArena: false,
    });
  }

  /** outerStepGraph for `selectedWarped` learned views. */
  outerStep(selectedWarped: number, includeOriginal: boolean, unrolledInnerSteps: number) {
    const { projectionDim, text: textConfig } = this.model.config;
    const { prompts } = this;
    return prompts.encoder.engine.compile(outerStepGraph(this.model, includeOriginal, unrolledInnerSteps), {
      inputs: {
        source: this.sourceSpec(),
        theta: { shape: [selectedWarped, 2, 3] },
        theta0: { shape: [selectedWarped, 2, 3] },
        ids: { shape: [prompts.classCount, prompts.length], dtype: 'int64' },
        eot: { shape: [prompts.classCount], dtype: 'int64' },
        ctx: { shape: [prompts.nCtx, textConfig.hiddenSize] },
        anchor: { shape: [1, projectionDim] },
        weights: { shape: [3] },
        outerWeights: { shape: [3] },
      },
      memoryArena: false,
    });
  }
}

/**
 * Bytes one view adds to the working set of the inner step (forward and backward through the vision
 * tower): per layer about 8 activations of tokens × width, 2 of tokens × MLP width and 2 attention
 * maps, in float32 — an upper estimate; measured on ViT-B/16 (VmHWM, the session without a memory
 * arena): 145 MiB per view, estimated 153 MiB.
 */
export function innerStepBytesPerView(vision: ClipVisionConfig): number {
  const { hiddenSize, intermediateSize, numHeads, numLayers, imageSize, patchSize } = vision;
  const tokens = (imageSize / patchSize) ** 2 + 1;
  return 4 * numLayers * tokens * (8 * hiddenSize + 2 * intermediateSize + 2 * numHeads * tokens);
}

/** Memory one inner-step run may take at most: 1 GiB, and a quarter of what the process has available. */
export const INNER_STEP_BUDGET = 2 ** 30;

/**
 * Views per inner-step run for `views` views: at most `maxChunk` and as many as fit in the budget
 * (min(INNER_STEP_BUDGET, available / 4) bytes, available defaulting to process.availableMemory()),
 * at least 1, split into chunks as equal as they come so that most runs share one compiled graph.
 * Chunks do not change the result: the inner objective is a sum over views.
 */
export function innerChunkSize(
  vision: ClipVisionConfig,
  views: number,
  maxChunk: number,
  available: number = process.availableMemory(),
): number {
  const budget = Math.min(INNER_STEP_BUDGET, available / 4);
  const limit = Math.max(1, Math.min(maxChunk, Math.floor(budget / innerStepBytesPerView(vision))));
  return Math.ceil(views / Math.ceil(Math.max(1, views) / limit));
}

/**
 * Steps a set of views' θ [V × 6] in place by their gradient and bounds each footprint (boundTheta).
 * plain: θ − lr·g; sgd: θ − lr·g_v / mean_u ‖g_u‖ (a zero gradient leaves θ); adam: Adam at lr.
 */
class ThetaStepper {
  private readonly adam: AdamW | null;

  constructor(
    views: number,
    private readonly kind: 'plain' | 'sgd' | 'adam',
    private readonly lr: number,
  ) {
    this.adam = kind === 'adam' ? new AdamW([views * 6], { lr }) : null;
  }

  step(thetas: Theta[], gradients: Float32Array): void {
    const flat = Float32Array.from(thetas.flat());
    if (this.adam) this.adam.update([flat], [gradients]);
    else {
      let scale = this.lr;
      if (this.kind === 'sgd') {
        let norms = 0;
        for (let v = 0; v < thetas.length; v++) norms += Math.hypot(...gradients.subarray(v * 6, v * 6 + 6));
        const mean = norms / Math.max(1, thetas.length);
        scale = mean > 0 ? this.lr / mean : 0;
      }
      flat.forEach((x, i) => (flat[i] = x - scale * gradients[i]));
    }
    thetas.forEach((_, v) => (thetas[v] = boundTheta(flat.subarray(v * 6, v * 6 + 6))));
  }
}

/** The outcome of tuning the prompt: what TPT reports, plus the views' final θ. */
export interface TunedViews extends ContextTuningResult {
  thetas: Theta[];
}

type ContextTuningResult = Pick<
  ContextTuning,
  'selected' | 'viewEntropies' | 'losses' | 'ctx' | 'textFeatures'
>;

/**
 * One image's warped views (all but the original, which is view 0 and never warped): their inner
 * loop, their features, and the one-stage and second-order joint tuning.
 */
export class ViewLearner {
  private readonly graphs: ViewGraphs;
  /** θ of views 1..N−1, as learned so far. */
  readonly thetas: Theta[];
  /** [1, λ_f, λ_r] / M, so that chunks of views add up to means over all M warped views. */
  private readonly viewWeights: number[];

  constructor(
    private readonly prompts: PromptSet,
    private readonly source: ViewSource,
    /** Unit features of the original image [1, P]. */
    private readonly anchor: Float32Array,
    /** TPT's crops as θ: where every view starts and what λ_r pulls it back to. */
    private readonly initial: readonly Theta[],
    private readonly meta: MetaOptions,
    private readonly chunk: number,
  ) {
    this.graphs = new ViewGraphs(prompts, source);
    this.thetas = initial.map((t) => [...t] as Theta);
    this.viewWeights = [1, meta.featureWeight, meta.thetaWeight].map((w) => w / Math.max(1, initial.length));
  }

  /**
   * K_in steps on θ minimising the inner objective with the text held at the initial context; returns
   * the loss before each step. The one-stage variant has no separate inner loop: θ moves in its joint
   * steps. The second-order variant takes plain gradient steps, the ones its meta-gradient graph
   * differentiates through; the others step with `innerOptimizer`. Every step ends with the footprint
   * bound (boundTheta), so a learned view stays on the image.
   */
  async learnViews(signal?: AbortSignal): Promise<number[]> {
    const { meta } = this;
    const steps = meta.variant === 'one-stage' ? 0 : meta.innerSteps;
    const stepper = new ThetaStepper(
      this.thetas.length,
      meta.variant === 'second-order' ? 'plain' : meta.innerOptimizer,
      meta.innerLr,
    );
    const losses: number[] = [];
    const chunk = innerChunkSize(this.prompts.encoder.model.config.vision, this.thetas.length, this.chunk);
    for (let step = 0; step < steps; step++) {
      signal?.throwIfAborted();
      const gradients = new Float32Array(this.thetas.length * 6);
      let loss = 0;
      await this.forChunks(chunk, async (start, end) => {
        const out = await (
          await this.graphs.innerStep(end - start)
        ).run({
          source: this.source.data,
          theta: this.thetas.slice(start, end).flat(),
          theta0: this.initial.slice(start, end).flat(),
          text: this.prompts.contextFeatures,
          anchor: this.anchor,
          weights: this.viewWeights,
        });
        loss += (out.loss.data as Float32Array)[0];
        gradients.set(out.grad.data as Float32Array, start * 6);
      });
      losses.push(loss);
      stepper.step(this.thetas, gradients);
    }
    return losses;
  }

  /**
   * Unit features [N, P] of all views: the original first, then the warped views at their current θ,
   * each mixed by AugMix first when `augmixRng` is given; the vision tower at `precision`.
   */
  async features(
    signal?: AbortSignal,
    augmixRng?: Random,
    precision: VisionPrecision = 'fp32',
  ): Promise<Float32Array> {
    const { encoder } = this.prompts;
    const width = encoder.projectionDim;
    const features = new Float32Array((this.thetas.length + 1) * width);
    features.set(this.anchor);
    await this.forChunks(this.chunk, async (start, end) => {
      signal?.throwIfAborted();
      const theta = this.thetas.slice(start, end).flat();
      let chunk: Float32Array;
      if (augmixRng) {
        const { imageSize } = encoder.model.config.vision;
        const { mean, std } = encoder.model.preprocess;
        const rendered = (
          await (await this.graphs.render(end - start)).run({ source: this.source.data, theta })
        ).views.data as Float32Array;
        const perView = 3 * imageSize * imageSize;
        const plane = imageSize * imageSize;
        const mixed = new Float32Array(rendered.length);
        for (let v = 0; v < end - start; v++) {
          const view = augmix(rendered.subarray(v * perView, (v + 1) * perView), imageSize, augmixRng);
          view.forEach(
            (x, i) =>
              (mixed[v * perView + i] = (x - mean[Math.floor(i / plane)]) / std[Math.floor(i / plane)]),
          );
        }
        chunk = normalizeRowsHost(await encoder.encodeImages(mixed, end - start, { precision }), width);
      } else {
        const encode = await this.graphs.encode(end - start, precision);
        chunk = (await encode.run({ source: this.source.data, theta })).features.data as Float32Array;
      }
      features.set(chunk, (start + 1) * width);
    });
    return features;
  }

  /**
   * One-stage (θ and context take joint steps on one loss) and second-order (the context's gradient
   * flows through differentiable inner steps from θ₀) tuning. Views are selected once, on step 0,
   * with the initial context, as in TPT.
   */
  async tuneJointly(viewFeatures: Float32Array, tpt: TptOptions): Promise<TunedViews> {
    const { prompts, meta } = this;
    const width = prompts.encoder.projectionDim;
    const viewEntropies = entropies(
      scaledSimilarities(viewFeatures, prompts.contextFeatures, width, prompts.encoder.model.logitScale),
      viewFeatures.length / width,
    );
    const selected = selectConfident(viewEntropies, tpt.selectRatio);
    const warped = selected.filter((v) => v > 0).map((v) => v - 1);
    // Only the original selected: no θ reaches the loss, and the step is TPT's.
    if (warped.length === 0)
      return { ...(await tuneContext(prompts, viewFeatures, tpt)), thetas: this.thetas };
    const secondOrder = meta.variant === 'second-order';
    const ctx = Float32Array.from(prompts.ctxInit);
    const { lr, beta1, beta2, eps, weightDecay } = tpt;
    const ctxOptimizer = new AdamW([ctx.length], { lr, beta1, beta2, eps, weightDecay });
    const learned: Theta[] = warped.map(
      (v) => [...(secondOrder ? this.initial[v] : this.thetas[v])] as Theta,
    );
    const stepper = new ThetaStepper(learned.length, meta.innerOptimizer, meta.innerLr);
    const losses: number[] = [];
    const fn = await this.graphs.outerStep(
      warped.length,
      selected.includes(0),
      secondOrder ? meta.innerSteps : 0,
    );
    const run = () =>
      fn.run({
        source: this.source.data,
        theta: learned.flat(),
        theta0: warped.flatMap((v) => this.initial[v]),
        ids: prompts.ids,
        eot: prompts.eot,
        ctx,
        anchor: this.anchor,
        weights: this.viewWeights,
        outerWeights: secondOrder ? [meta.innerLr, 0, 0] : [0, meta.featureWeight, meta.thetaWeight],
      });
    for (let step = 0; step < tpt.steps; step++) {
      // One-stage: θ's block steps come first, so that the prompt's step sees the views they made
      // (a simultaneous step would never use θ's update when TPT takes a single step).
      if (!secondOrder && warped.length > 0) {
        for (let k = 0; k < Math.max(1, meta.innerSteps); k++)
          stepper.step(learned, (await run()).gradTheta.data as Float32Array);
      }
      const out = await run();
      losses.push((out.tpt.data as Float32Array)[0]);
      ctxOptimizer.update([ctx], [out.gradCtx.data as Float32Array]);
    }
    if (!secondOrder) warped.forEach((v, i) => (this.thetas[v] = learned[i]));
    const textFeatures = normalizeRowsHost(await prompts.encoder.encodeText(prompts.tokens, { ctx }), width);
    return { selected, viewEntropies, losses, ctx, textFeatures, thetas: this.thetas };
  }

  private async forChunks(chunk: number, work: (start: number, end: number) => Promise<void>): Promise<void> {
    for (let start = 0; start < this.thetas.length; start += chunk) {
      await work(start, Math.min(this.thetas.length, start + chunk));
    }
  }
}
