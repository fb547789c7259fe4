// Test-time prompt tuning (Shu et al., 2022) as the official code does it: confidence selection
// once on step 0, the marginal entropy of the selected views, AdamW on the shared context vectors,
// prediction on the original view with the tuned context. Only the text tower is differentiated.
import { clipLogits, type ClipModel } from '../clip/model.js';
import { tracedFamily, type Inputs } from '../runtime.js';
import { grad } from '../grad.js';
import { AdamW } from '../optim.js';
import { marginalEntropy, selectConfident } from './losses.js';
import { type PromptSet } from './prompts.js';
import { DEFAULT_SETTINGS } from '../../shared/domain/adaptation.js';
import { entropies, normalizeRowsHost, scaledSimilarities } from '../host-math.js';

/**
 * TPT's loss, the marginal entropy of the selected views' predictions, and its gradient with respect
 * to the context ctx [n_ctx, D]; images [K, P] are the selected views' unit features.
 */
const tptStep = tracedFamily(
  'tpt-step',
  (model: ClipModel) =>
    ({ ids, eot, ctx, images }: Inputs<'ids' | 'eot' | 'ctx' | 'images'>) => {
      const text = model.encodeTextEmbeddings(model.embedPrompts(ids, ctx), eot);
      const loss = marginalEntropy(clipLogits(images, text, model.logitScale));
      return { loss, grad: grad(loss, [ctx])[0] };
    },
);

export interface TptOptions {
  /** Optimisation steps (the paper: 1). */
  steps: number;
  lr: number;
  /** Fraction of views kept by confidence selection (the paper: 0.1). */
  selectRatio: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** The official TPT code's AdamW (weight decay 0.01, betas 0.9/0.999, eps 1e-8) and settings. */
export const TPT_DEFAULTS: TptOptions = {
  steps: DEFAULT_SETTINGS.steps,
  lr: DEFAULT_SETTINGS.lr,
  selectRatio: DEFAULT_SETTINGS.selectRatio,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
};

export interface ContextTuning {
  /** Views kept on step 0, lowest entropy first. */
  selected: number[];
  /** Entropy of each view's prediction with the initial context. */
  viewEntropies: Float64Array;
  /** Marginal entropy before each step. */
  losses: number[];
  /** Gradient of the first step (for inspection and tests). */
  firstGradient: Float32Array;
  /** The tuned context [nCtx, D]. */
  ctx: Float32Array;
  /** Text features [C, P] with the tuned context, unit rows. */
  textFeatures: Float32Array;
}

/**
 * Tunes the context on views whose features (unit rows [N, P]) are given. The view features are
 * computed once per image by the caller; the text features at the initial context come from the
 * prompt set's cache.
 */
export async function tuneContext(
  prompts: PromptSet,
  viewFeatures: Float32Array,
  options: TptOptions,
): Promise<ContextTuning> {
  const { encoder } = prompts;
  const { model } = encoder;
  const width = encoder.projectionDim;
  const views = viewFeatures.length / width;
  if (prompts.nCtx === 0) throw new Error('prompt tuning needs a template with words before {} to learn');

  const logitsBefore = scaledSimilarities(viewFeatures, prompts.contextFeatures, width, model.logitScale);
  const viewEntropies = entropies(logitsBefore, views);
  const selected = selectConfident(viewEntropies, options.selectRatio);
  const selectedFeatures = new Float32Array(selected.length * width);
  selected.forEach((v, i) =>
    selectedFeatures.set(viewFeatures.subarray(v * width, (v + 1) * width), i * width),
  );

  const textWidth = model.config.text.hiddenSize;
  const step = await encoder.engine.compile(tptStep(model), {
    inputs: {
      ids: { shape: [prompts.classCount, prompts.length], dtype: 'int64' },
      eot: { shape: [prompts.classCount], dtype: 'int64' },
      ctx: { shape: [prompts.nCtx, textWidth] },
      images: { shape: [selected.length, width] },
    },
    // Its working set grows with the class set (about 1 GB at 200 classes on ViT-B/16): returned
    // after each run, so that MetaTPT's inner step can reuse it (BENCHMARKS.md, "MetaTPT cost").
    memoryArena: false,
  });

  const ctx = Float32Array.from(prompts.ctxInit);
  const optimizer = new AdamW([ctx.length], {
    lr: options.lr,
    beta1: options.beta1,
    beta2: options.beta2,
    eps: options.eps,
    weightDecay: options.weightDecay,
  });
  const losses: number[] = [];
  let firstGradient = new Float32Array(0);
  for (let i = 0; i < options.steps; i++) {
    const out = await step.run({ ids: prompts.ids, eot: prompts.eot, ctx, images: selectedFeatures });
    const g = out.grad.data as Float32Array;
    if (i === 0) firstGradient = Float32Array.from(g);
    losses.push((out.loss.data as Float32Array)[0]);
    optimizer.update([ctx], [g]);
  }
  const textFeatures = normalizeRowsHost(await encoder.encodeText(prompts.tokens, { ctx }), width);
  return { selected, viewEntropies, losses, firstGradient, ctx, textFeatures };
}
