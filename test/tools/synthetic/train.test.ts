import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { Random } from '../../../src/engine/random.js';
import { Engine } from '../../../src/engine/runtime.js';
import { augmentImage, TRAINING_AUGMENTATION } from '../../../tools/synthetic/augment.js';
import {
  ContrastiveTrainer,
  initClipModel,
  captionTargets,
  learningRateFactor,
  renderScenePool,
  resizePositionEmbedding,
  sampleTrainingBatch,
  writeClipModelFolder,
  type ClipDims,
} from '../../../tools/synthetic/train.js';

const TINY: ClipDims = {
  text: { hidden: 32, heads: 2, layers: 1, mlp: 64 },
  vision: { hidden: 32, heads: 2, layers: 1, mlp: 64, imageSize: 32, patchSize: 8 },
  projection: 16,
};

describe('contrastive training', () => {
  it('a few AdamW steps lower the contrastive loss of a batch, and the weights round-trip through the folder', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const model = initClipModel(TINY, 3);
    const options = {
      batchSize: 16,
      textLength: 16,
      lr: 3e-3,
      weightDecay: 0.1,
      warmupSteps: 1,
      cooldownSteps: 10,
      totalSteps: 100,
    };
    const trainer = await ContrastiveTrainer.create(model, engine, options);
    const pool = await renderScenePool(new Random(4), 1, 64);
    const batch = await sampleTrainingBatch(
      model,
      pool,
      new Random(4),
      options.batchSize,
      'mixed',
      TRAINING_AUGMENTATION,
    );
    const before = await trainer.loss(batch);
    for (let step = 0; step < 8; step++) await trainer.step(batch);
    const after = await trainer.loss(batch);
    expect(trainer.stepsTaken).toBe(8);
    expect(after).toBeLessThan(before - 0.3);

    const dir = join(mkdtempSync(join(tmpdir(), 'synthetic-clip-')), 'model');
    writeClipModelFolder(dir, model, TINY, { seed: '3' });
    const loaded = ClipModel.load(dir);
    for (const name of ['logit_scale', 'vision_model.encoder.layers.0.mlp.fc1.weight']) {
      expect([...loaded.weightData(name)]).toEqual([...model.weightData(name)]);
    }
    await engine.dispose();
  });

  it('refuses captions longer than the text length instead of truncating them', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const model = initClipModel(TINY, 0);
    const trainer = await ContrastiveTrainer.create(model, engine, {
      batchSize: 2,
      textLength: 4,
      lr: 1e-3,
      weightDecay: 0,
      warmupSteps: 1,
      cooldownSteps: 1,
      totalSteps: 1,
    });
    const batch = await sampleTrainingBatch(
      model,
      await renderScenePool(new Random(0), 1, 32),
      new Random(0),
      2,
    );
    batch.captions = ['a red striped star on a blue background', 'a star'];
    await expect(trainer.step(batch)).rejects.toThrow(/more than the trainer's textLength 4/);
    await engine.dispose();
  });

  it('warms the learning rate up linearly, holds it, then cools it down linearly to zero', () => {
    expect(learningRateFactor(0, 10, 40, 110)).toBeCloseTo(0.1);
    expect(learningRateFactor(9, 10, 40, 110)).toBeCloseTo(1);
    expect(learningRateFactor(69, 10, 40, 110)).toBeCloseTo(1);
    expect(learningRateFactor(90, 10, 40, 110)).toBeCloseTo(0.5);
    expect(learningRateFactor(110, 10, 40, 110)).toBeCloseTo(0);
  });

  it('treats identical captions in a batch as positives of each other', () => {
    expect([...captionTargets(['a star', 'a ring', 'a star'])]).toEqual([0.5, 0, 0.5, 0, 1, 0, 0.5, 0, 0.5]);
  });

  it('augments reproducibly: same stream, same crop, flip and jitter; output at the asked side', () => {
    const data = Uint8Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 37) % 256);
    const image = { width: 40, height: 30, data };
    const options = { ...TRAINING_AUGMENTATION, side: 16 };
    const a = augmentImage(image, new Random(9), options);
    expect(a.width).toBe(16);
    expect(a.data.length).toBe(16 * 16 * 3);
    expect(augmentImage(image, new Random(9), options).data).toEqual(a.data);
    expect(augmentImage(image, new Random(10), options).data).not.toEqual(a.data);
  });

  it('resamples a position embedding grid bilinearly (torch, align_corners=False), keeping the class token', () => {
    // Class token 9, then the 2 × 2 grid [[0, 1], [2, 3]]; width 1. Source rows/columns of the
    // 4 × 4 grid: (i + ½)·½ − ½ = −¼, ¼, ¾, 1¼, clamped to 0, ¼, ¾, 1.
    const resized = resizePositionEmbedding(new Float32Array([9, 0, 1, 2, 3]), 2, 4, 1);
    expect([...resized]).toEqual([
      9, 0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3,
    ]);
    // Same grid: unchanged, every channel.
    const same = new Float32Array(Array.from({ length: 10 * 2 }, (_, i) => i * 0.5));
    expect([...resizePositionEmbedding(same, 3, 3, 2)]).toEqual([...same]);
    expect(() => resizePositionEmbedding(same, 4, 6, 2)).toThrow(/not \(1 \+ 4²\) × 2/);
  });
});
