// A TPT baseline with the structure of the official code (Shu et al., 2022, test_time_tuning and
// test_time_adapt_eval), written with the engine's public pieces, to measure what our TPT saves:
//   - the text tower runs at the full 77 tokens (no trimming at end-of-text);
//   - nothing is cached: per image, one graph computes the text features at the initial context,
//     the logits of all views, the confidence selection, the marginal entropy and its gradient;
//     after the AdamW step the text tower runs again at the new context, and the original view is
//     encoded again for the final prediction.
// It must predict what our TPT predicts: same views, same selection, same update.
import { ViewGraphs } from '../src/engine/adapt/metatpt.js';
import type { PreparedImage } from '../src/engine/adapt/adapt.js';
import { rowEntropy } from '../src/engine/adapt/losses.js';
import { type PromptSet } from '../src/engine/adapt/prompts.js';
import { type TptOptions } from '../src/engine/adapt/tpt.js';
import { tptViewThetas } from '../src/engine/adapt/views.js';
import { clipLogits, type ClipModel } from '../src/engine/clip/model.js';
import { grad } from '../src/engine/grad.js';
import { AdamW } from '../src/engine/optim.js';
import { tracedFamily, type Inputs } from '../src/engine/runtime.js';
import { Random } from '../src/engine/random.js';
import { constant, equal, where, type Tensor } from '../src/engine/tensor.js';
import { argmax, normalizeRowsHost, scaledSimilarities, softmax } from '../src/engine/host-math.js';

/** The official code's TPT step: the loss over the `keep` most confident of all views, and its ctx-gradient. */
const baselineTptStep = tracedFamily(
  'baseline-tpt-step',
  (model: ClipModel, keep: number) =>
    ({ ids, eot, ctx, images }: Inputs<'ids' | 'eot' | 'ctx' | 'images'>) => {
      const text = model.encodeTextEmbeddings(model.embedPrompts(ids, ctx), eot);
      const loss = confidentMarginalEntropy(clipLogits(images, text, model.logitScale), keep);
      return { loss, grad: grad(loss, [ctx])[0] };
    },
);

export interface BaselineOptions {
  /** Views per image, the original included. */
  views: number;
  seed: number;
  tpt: TptOptions;
  /** Views per vision-tower run. */
  chunk: number;
}

export interface BaselineResult {
  label: number;
  probs: Float64Array;
  loss: number;
  ctx: Float32Array;
  /** Milliseconds per phase. */
  timings: Record<string, number>;
}

/**
 * The marginal entropy of the `keep` lowest-entropy rows of `logits` [N, C], selected inside the
 * graph as the official code does with topk (ties go to the lower index, as selectConfident does).
 * Rows left out are masked before the log-mean-exp, so no gradient reaches them.
 */
export function confidentMarginalEntropy(logits: Tensor, keep: number): Tensor {
  const n = logits.shape[0];
  const entropy = rowEntropy(logits);
  const mine = entropy.reshape([n, 1]);
  const other = entropy.reshape([1, n]);
  const earlierIndex = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) earlierIndex[i * n + j] = 1;
  // rank_i = #{j : H_j < H_i} + #{j < i : H_j = H_i}
  const ahead = other
    .lt(mine)
    .cast(logits.dtype)
    .add(
      equal(other, mine)
        .cast(logits.dtype)
        .mul(constant(earlierIndex, [n, n], 'bool').cast(logits.dtype)),
    );
  const selected = ahead.sum(1, true).lt(keep);
  const logProbs = where(selected, logits.logSoftmax(-1), -1e30);
  const meanLogProbs = logProbs.logsumexp(0).sub(Math.log(keep));
  return meanLogProbs.exp().mul(meanLogProbs).sum().neg();
}

/** Wall-clock milliseconds per named phase. */
class Phases {
  readonly timings: Record<string, number> = {};

  async time<T>(phase: string, work: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.timings[phase] = (this.timings[phase] ?? 0) + performance.now() - start;
    }
  }
}

export async function baselineTpt(
  prompts: PromptSet,
  image: PreparedImage,
  options: BaselineOptions,
): Promise<BaselineResult> {
  if (options.tpt.steps !== 1) {
    throw new Error(`tpt-baseline: implements the paper's single TPT step, got steps = ${options.tpt.steps}`);
  }
  const { encoder } = prompts;
  const { model } = encoder;
  const width = encoder.projectionDim;
  const phases = new Phases();
  // The full 77-token prompts, as the official prompt learner builds them.
  const full = model.tokenizer.encode([...prompts.prompts]);
  const views = options.views;

  const viewFeatures = await phases.time('encodeViews', async () => {
    const features = new Float32Array(views * width);
    features.set(normalizeRowsHost(await encoder.encodeImages(image.original, 1), width));
    const graphs = new ViewGraphs(prompts, image.source);
    const thetas = tptViewThetas(new Random(options.seed), views, image.width, image.height).slice(1);
    for (let start = 0; start < thetas.length; start += options.chunk) {
      const end = Math.min(thetas.length, start + options.chunk);
      const fn = await graphs.encode(end - start);
      const out = await fn.run({ source: image.source.data, theta: thetas.slice(start, end).flat() });
      features.set(out.features.data as Float32Array, (start + 1) * width);
    }
    return features;
  });

  const keep = Math.max(1, Math.floor(views * options.tpt.selectRatio)); // as selectConfident
  const step = await phases.time('compileStep', () =>
    encoder.engine.compile(baselineTptStep(model, keep), {
      inputs: {
        ids: { shape: [prompts.classCount, full.contextLength], dtype: 'int64' },
        eot: { shape: [prompts.classCount], dtype: 'int64' },
        ctx: { shape: [prompts.nCtx, model.config.text.hiddenSize] },
        images: { shape: [views, width] },
      },
    }),
  );
  const ctx = Float32Array.from(prompts.ctxInit);
  const out = await phases.time('textStep', () =>
    step.run({ ids: full.ids, eot: full.eot, ctx, images: viewFeatures }),
  );
  await phases.time('optimizer', () => {
    const { lr, beta1, beta2, eps, weightDecay } = options.tpt;
    new AdamW([ctx.length], { lr, beta1, beta2, eps, weightDecay }).update(
      [ctx],
      [out.grad.data as Float32Array],
    );
  });
  const textFeatures = await phases.time('encodeTextFinal', async () =>
    normalizeRowsHost(await encoder.encodeText(full, { ctx, trim: false }), width),
  );
  const original = await phases.time('encodeOriginalAgain', async () =>
    normalizeRowsHost(await encoder.encodeImages(image.original, 1), width),
  );
  const probs = await phases.time('predict', () =>
    softmax(scaledSimilarities(original, textFeatures, width, model.logitScale)),
  );
  return {
    label: argmax(probs),
    probs,
    loss: (out.loss.data as Float32Array)[0],
    ctx,
    timings: phases.timings,
  };
}
