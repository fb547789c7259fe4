// The view side of MetaTPT (Lei et al., 2025), as reconstructed from the published description — the
// method section and code are not public. Each view is an affine θ applied to the source image by a
// differentiable warp; an inner loop learns θ by a self-supervised loss, and the outer loop is TPT's.
// Graphs here are compiled once per model and chunk size and run per image.
import type { ClipModel } from '../clip/model.js';
import { normalizeRows } from '../clip/model.js';
import type { CompiledFunction } from '../runtime.js';
import { grad } from '../grad.js';
import { concat, type Tensor } from '../tensor.js';
import { rowEntropy, marginalEntropy } from './losses.js';
import type { PromptSet } from './prompts.js';
import { normalizePixels, warpViews } from './warp.js';

export interface MetaOptions {
  /** K_in: Adam steps on the views' θ before the prompt is tuned; 0 reproduces TPT exactly. */
  innerSteps: number;
  innerLr: number;
  /** λ_f: weight of 1 − cos(f_v, f_0), which keeps a view on the image's content. */
  featureWeight: number;
  /** λ_r: weight of ‖θ_v − θ_v0‖². */
  thetaWeight: number;
  /**
   * two-stage: learn θ, then tune the prompt on the learned views (the default);
   * one-stage: θ and the prompt take joint steps on one loss;
   * second-order: the inner steps are plain gradient steps differentiated through (meta-gradient).
   */
  variant: 'two-stage' | 'one-stage' | 'second-order';
}

export const META_DEFAULTS: MetaOptions = {
  innerSteps: 1,
  innerLr: 0.01,
  featureWeight: 1,
  thetaWeight: 0,
  variant: 'two-stage',
};

/** The source image the views are warped out of, CHW in 0..1, square. */
export interface ViewSource {
  data: Float32Array;
  side: number;
}

/** Unit feature rows of the views `theta` [B, 2, 3] warped out of `source` [3, R, R]. */
export function viewFeatures(model: ClipModel, source: Tensor, theta: Tensor): Tensor {
  const { imageSize } = model.config.vision;
  const { mean, std } = model.preprocess;
  return normalizeRows(model.encodeImages(normalizePixels(warpViews(source, theta, imageSize), mean, std)));
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

  /** Features (unit rows) of views θ [B, 2, 3]. */
  encode(batch: number): Promise<CompiledFunction<'source' | 'theta', 'features'>> {
    return this.prompts.encoder.engine.compile(`${this.model.id}:views`, {
      inputs: { source: this.sourceSpec(), theta: { shape: [batch, 2, 3] } },
      build: ({ source, theta }) => ({ features: viewFeatures(this.model, source, theta) }),
    });
  }

  /** One first-order inner step's loss and θ-gradient for a chunk, the text held fixed. */
  innerStep(batch: number) {
    const { projectionDim } = this.model.config;
    return this.prompts.encoder.engine.compile(`${this.model.id}:meta-inner`, {
      inputs: {
        source: this.sourceSpec(),
        theta: { shape: [batch, 2, 3] },
        theta0: { shape: [batch, 2, 3] },
        text: { shape: [this.prompts.classCount, projectionDim] },
        anchor: { shape: [1, projectionDim] },
        weights: { shape: [3] },
      },
      build: ({ source, theta, theta0, text, anchor, weights }) => {
        const features = viewFeatures(this.model, source, theta);
        const loss = innerObjective(features, text, anchor, theta, theta0, weights, this.model.logitScale);
        return { loss, grad: grad(loss, [theta])[0] };
      },
    });
  }

  /**
   * The outer (TPT) loss on the selected views, plus the view regularisers weighted by
   * `outerWeights` = [inner lr, λ_f, λ_r], and its gradient with respect to the context and the views' θ.
   * With `unrolledInnerSteps` > 0 the views first take that many differentiable inner gradient steps
   * (the second-order variant), so the context also reaches the loss through the learned views.
   */
  outerStep(selectedWarped: number, includeOriginal: boolean, unrolledInnerSteps: number) {
    const { projectionDim, text: textConfig } = this.model.config;
    const { prompts } = this;
    const model = this.model;
    return prompts.encoder.engine.compile(`${model.id}:meta-outer:${includeOriginal}:${unrolledInnerSteps}`, {
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
      build: ({ source, theta, theta0, ids, eot, ctx, anchor, weights, outerWeights }) => {
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
          views = views.sub(grad(inner, [views])[0].mul(outerWeights.slice(0, 0, 1).reshape([])));
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
    });
  }
}
