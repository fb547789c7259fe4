import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '../../helpers.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import type { EncodedBatch } from '../../../src/engine/clip/tokenizer.js';
import { Engine } from '../../../src/engine/runtime.js';
import { GOLDEN_MODEL_DIR, goldenIndex, loadGoldenTensor } from '../../fixtures/golden/load.js';

let encoder: ClipEncoder;
let batch: EncodedBatch;

beforeAll(() => {
  const model = ClipModel.load(GOLDEN_MODEL_DIR);
  encoder = new ClipEncoder(model, new Engine({ provider: 'cpu', log: () => {} }));
  batch = model.tokenizer.encode(goldenIndex.prompts);
});

describe('CLIP towers against the golden PyTorch vectors', () => {
  it('tokenizes the prompts to the golden ids', () => {
    expect([...batch.ids]).toEqual([...loadGoldenTensor('token_ids').data]);
    expect([...batch.eot]).toEqual([...loadGoldenTensor('eot_index').data]);
  });

  it('text features, trimmed at the longest prompt and at full length, agree with the reference', async () => {
    const expected = loadGoldenTensor('text_features').data;
    const trimmed = await encoder.encodeText(batch);
    const full = await encoder.encodeText(batch, { trim: false });
    expect(batch.maxLength).toBeLessThan(77);
    expectClose(trimmed, expected, 1e-4);
    expectClose(full, expected, 1e-4);
    expectClose(trimmed, full, 1e-5);
  });

  it('the long prompt truncated to 77 tokens', async () => {
    const long = encoder.model.tokenizer.encode([goldenIndex.long_prompt]);
    expect([...long.ids]).toEqual([...loadGoldenTensor('long_prompt_token_ids').data]);
    expectClose(await encoder.encodeText(long), loadGoldenTensor('long_prompt_text_features').data, 1e-4);
  });

  it('context-substituted text features (init and perturbed context)', async () => {
    for (const which of ['init', 'rand']) {
      const ctx = loadGoldenTensor(`ctx_${which}`).data as Float32Array;
      const features = await encoder.encodeText(batch, { ctx });
      expectClose(features, loadGoldenTensor(`text_features_ctx_${which}`).data, 1e-4);
    }
  });

  it('image features and logits', async () => {
    const pixels = loadGoldenTensor('pixel_values');
    const count = pixels.shape[0];
    const image = await encoder.encodeImages(pixels.data as Float32Array, count);
    expectClose(image, loadGoldenTensor('image_features').data, 1e-4);
    const text = await encoder.encodeText(batch);
    const logits = await encoder.logits(image, text);
    const expected = loadGoldenTensor('logits_per_image').data;
    logits.forEach((l, i) => expect(Math.abs(l - expected[i])).toBeLessThanOrEqual(1e-3));
  });
});
