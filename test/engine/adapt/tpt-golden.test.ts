import { beforeAll, describe, expect, it } from 'vitest';
import { PromptSet } from '../../../src/engine/adapt/prompts.js';
import { TPT_DEFAULTS, tuneContext } from '../../../src/engine/adapt/tpt.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { Engine } from '../../../src/engine/runtime.js';
import { GOLDEN_MODEL_DIR, goldenIndex, loadGoldenTensor } from '../../fixtures/golden/load.js';
import { expectClose } from '../../helpers.js';
import { entropies, normalizeRowsHost, scaledSimilarities } from '../../../src/engine/host-math.js';

let prompts: PromptSet;
let encoder: ClipEncoder;

beforeAll(async () => {
  encoder = new ClipEncoder(ClipModel.load(GOLDEN_MODEL_DIR), new Engine({ provider: 'cpu', log: () => {} }));
  prompts = await PromptSet.create(encoder, goldenIndex.class_names);
});

describe('one TPT step against the golden PyTorch run', () => {
  it('initialises the context from the embeddings of "a photo of a"', () => {
    expect(prompts.nCtx).toBe(4);
    expect([...prompts.ctxInit]).toEqual([...loadGoldenTensor('ctx_init').data]);
    expect(prompts.prompts).toEqual(goldenIndex.prompts);
  });

  for (const [prefix, summary] of [
    ['tpt', goldenIndex.tpt],
    ['tpt64', goldenIndex.tpt64],
  ] as const) {
    it(`${prefix}: ${summary.n_views} views`, async () => {
      const views = loadGoldenTensor(`${prefix}_views`);
      const raw = await encoder.encodeImages(views.data as Float32Array, summary.n_views);
      expectClose(raw, loadGoldenTensor(`${prefix}_view_image_features`).data, 1e-4);
      const features = normalizeRowsHost(raw, encoder.projectionDim);

      const logitsBefore = scaledSimilarities(
        features,
        prompts.textFeatures,
        encoder.projectionDim,
        encoder.model.logitScale,
      );
      const expectedLogits = loadGoldenTensor(`${prefix}_logits_before`).data;
      logitsBefore.forEach((l, i) => expect(Math.abs(l - expectedLogits[i])).toBeLessThanOrEqual(1e-3));

      const result = await tuneContext(prompts, features, TPT_DEFAULTS);
      expectClose(result.viewEntropies, loadGoldenTensor(`${prefix}_entropies`).data, 1e-5);
      expect(result.selected).toEqual([...loadGoldenTensor(`${prefix}_selected_idx`).data]);
      expect(result.losses[0]).toBeCloseTo(summary.loss, 5);
      expectClose(result.firstGradient, loadGoldenTensor(`${prefix}_grad_ctx`).data, 1e-4);
      const newCtx = loadGoldenTensor(`${prefix}_new_ctx`).data;
      result.ctx.forEach((v, i) => expect(Math.abs(v - newCtx[i])).toBeLessThanOrEqual(1e-6));
      expectClose(result.textFeatures, loadGoldenTensor(`${prefix}_text_features_new`).data, 1e-4);

      const logitsAfter = scaledSimilarities(
        features.subarray(0, encoder.projectionDim),
        result.textFeatures,
        encoder.projectionDim,
        encoder.model.logitScale,
      );
      const expectedAfter = loadGoldenTensor(`${prefix}_logits_view0_new`).data;
      logitsAfter.forEach((l, i) => expect(Math.abs(l - expectedAfter[i])).toBeLessThanOrEqual(1e-3));
      const argmax = (xs: ArrayLike<number>): number => Array.from(xs).indexOf(Math.max(...Array.from(xs)));
      expect(argmax(logitsAfter)).toBe(summary.pred_after_view0);
      expect(entropies(logitsAfter, 1)[0]).toBeGreaterThan(0);
    });
  }
});
