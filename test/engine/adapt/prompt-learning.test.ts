import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADAPT_DEFAULTS,
  adaptImage,
  prepareImage,
  type PreparedImage,
} from '../../../src/engine/adapt/adapt.js';
import {
  COOP_DEFAULTS,
  coopObjective,
  fitPrompt,
  splitLabels,
  type LabelledFeatures,
} from '../../../src/engine/adapt/coop.js';
import { PromptSet } from '../../../src/engine/adapt/prompts.js';
import {
  adaptToClasses,
  arrangedEmbeddings,
  contrastiveLoss,
  cptArrangements,
  initProjectionHead,
  selfTptDefaults,
  trainSelfTpt,
} from '../../../src/engine/adapt/selftpt.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { Random } from '../../../src/engine/random.js';
import { grad } from '../../../src/engine/grad.js';
import { AdamW } from '../../../src/engine/optim.js';
import { Engine, traced, type Inputs } from '../../../src/engine/runtime.js';
import { GOLDEN_MODEL_DIR, goldenIndex } from '../../fixtures/golden/load.js';
import { expectClose } from '../../helpers.js';
import { normalizeRowsHost, scaledSimilarities, softmax } from '../../../src/engine/host-math.js';

let encoder: ClipEncoder;
let prompts: PromptSet;
let image: PreparedImage;
const CLASSES = 5;

/** Well separated clusters: class c's images lie near a random unit direction of its own. */
function toySet(perClass: number, seed: number): LabelledFeatures {
  const width = encoder.projectionDim;
  const rng = new Random(seed);
  const centres = normalizeRowsHost(rng.normalArray(CLASSES * width), width);
  const noisy = new Random(seed + 1);
  const features = new Float32Array(CLASSES * perClass * width);
  const labels = new Int32Array(CLASSES * perClass);
  for (let i = 0; i < labels.length; i++) {
    labels[i] = i % CLASSES;
    for (let k = 0; k < width; k++)
      features[i * width + k] = centres[labels[i] * width + k] + 0.03 * noisy.normal();
  }
  return { features: normalizeRowsHost(features, width), labels };
}

beforeAll(async () => {
  encoder = new ClipEncoder(ClipModel.load(GOLDEN_MODEL_DIR), new Engine({ provider: 'cpu', log: () => {} }));
  prompts = await PromptSet.create(encoder, goldenIndex.class_names.slice(0, CLASSES));
  const path = join(mkdtempSync(join(tmpdir(), 'coop-')), 'shapes.png');
  await sharp(
    Buffer.from(
      '<svg width="80" height="60"><rect width="80" height="60" fill="#2a7"/><circle cx="40" cy="30" r="20" fill="#e41"/></svg>',
    ),
  )
    .png()
    .toFile(path);
  image = await prepareImage(path, prompts);
});

describe('CoOp from labelled features', () => {
  it('splits each class, keeping at least one training label', () => {
    const labels = Int32Array.from([0, 0, 0, 0, 0, 1, 1, 2]);
    const { train, validation } = splitLabels(labels, 0.4, 3);
    expect(validation.map((r) => labels[r]).sort()).toEqual([0, 0, 1]);
    expect([...train, ...validation].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(train.map((r) => labels[r])).toContain(2);
  });

  it('reaches 100 % training accuracy on a separable toy set', async () => {
    const data = toySet(6, 7);
    const objective = coopObjective(prompts);
    const fit = await fitPrompt(prompts, data, objective, {
      ...COOP_DEFAULTS,
      epochs: 150,
      patience: 150,
      lr: 2e-2,
      validationFraction: 0,
    });
    expect(fit.before.trainAccuracy).toBeLessThan(1);
    expect(fit.after.trainAccuracy).toBe(1);
    expect(fit.history.at(-1)!.loss).toBeLessThan(fit.history[1].loss);
  });

  it('keeps the best epoch on held-out labels and classifies with the learned prompt', async () => {
    const data = toySet(5, 11);
    const fit = await fitPrompt(prompts, data, coopObjective(prompts), { ...COOP_DEFAULTS, epochs: 8 });
    const best = fit.history[fit.bestEpoch];
    expect(fit.split.validation).toHaveLength(5);
    expect(Math.max(...fit.history.map((h) => h.validationAccuracy!))).toBe(best.validationAccuracy);
    expect(fit.after.validationAccuracy).toBe(best.validationAccuracy);

    const learned = await PromptSet.create(encoder, prompts.classNames, { ctx: fit.params[0] });
    const width = encoder.projectionDim;
    const anchor = normalizeRowsHost(await encoder.encodeImages(image.original, 1), width);
    const result = await adaptImage(learned, image, { ...ADAPT_DEFAULTS, method: 'coop' });
    const expected = softmax(
      scaledSimilarities(anchor, learned.contextFeatures, width, encoder.model.logitScale),
    );
    expectClose(result.probs, expected, 1e-6);
    expect(result.zeroShotProbs).toEqual(
      softmax(scaledSimilarities(anchor, prompts.textFeatures, width, encoder.model.logitScale)),
    );
    await expect(adaptImage(prompts, image, { ...ADAPT_DEFAULTS, method: 'coop' })).rejects.toThrow(
      /learned prompt/,
    );
  });
});

describe('Self-TPT on a CLIP model', () => {
  it("the 'end' arrangement is CoOp's prompt", async () => {
    const width = encoder.model.config.text.hiddenSize;
    const ctx = new Random(4).normalArray(prompts.nCtx * width, 0.02);
    const { model } = encoder;
    const endArrangement = traced(
      'test:end-arrangement',
      ({ ids, eot, ctx, index }: Inputs<'ids' | 'eot' | 'ctx' | 'index'>) => ({
        features: model.encodeTextEmbeddings(arrangedEmbeddings(model.embedTokens(ids), ctx, index), eot),
      }),
    );
    const fn = await encoder.engine.compile(endArrangement, {
      inputs: {
        ids: { shape: [CLASSES, prompts.length], dtype: 'int64' },
        eot: { shape: [CLASSES], dtype: 'int64' },
        ctx: { shape: [prompts.nCtx, width] },
        index: { shape: [CLASSES, prompts.length], dtype: 'int64' },
      },
    });
    const index = cptArrangements(prompts.ids, prompts.eot, prompts.length, prompts.nCtx).subarray(
      0,
      CLASSES * prompts.length,
    );
    const out = await fn.run({ ids: prompts.ids, eot: prompts.eot, ctx, index });
    expectClose(out.features.data as Float32Array, await encoder.encodeText(prompts.tokens, { ctx }), 1e-5);
  });

  it('stage 1 trains context and head on CE + CPT + gradient matching; stage 2 lowers CPT on new names', async () => {
    const options = selfTptDefaults(encoder.projectionDim);
    const source = await trainSelfTpt(prompts, toySet(4, 5), {
      ...options,
      training: { ...options.training, epochs: 3, patience: 3 },
    });
    const parts = source.fit.history.slice(1).map((h) => h.parts);
    for (const p of parts)
      for (const name of ['ce', 'cpt', 'match']) expect(Number.isFinite(p[name])).toBe(true);
    expect(source.ctx).not.toEqual(prompts.ctxInit);

    const target = await PromptSet.create(encoder, goldenIndex.class_names.slice(CLASSES, CLASSES + 4));
    const adapted = await adaptToClasses(target, source, { ...options, adaptSteps: 4 });
    expect(adapted.losses).toHaveLength(4);
    expect(adapted.losses[3]).toBeLessThan(adapted.losses[0]);
    const again = await adaptToClasses(target, source, { ...options, adaptSteps: 4 });
    expect(again.ctx).toEqual(adapted.ctx);
  });

  it('stage 2 in length buckets, classes sorted by length, equals CPT in class order at full length', async () => {
    const { model } = encoder;
    // Prompts of 7 to 14 tokens, out of length order: several buckets, rows reordered.
    const names = ['great white shark', 'cat', 'hammerhead shark of the open sea', 'dog', 'tiger shark'];
    const target = await PromptSet.create(encoder, names);
    expect(new Set(target.eot).size).toBeGreaterThan(2);
    const options = { ...selfTptDefaults(encoder.projectionDim), adaptSteps: 3, adaptLr: 1e-3 };
    const head = initProjectionHead([encoder.projectionDim, options.headHidden, options.headOut], 1);
    const source = { ctx: new Random(2).normalArray(target.ctxInit.length, 0.02), head };
    const adapted = await adaptToClasses(target, source, options);

    const [classes, length] = [names.length, target.length];
    const reference = traced(
      'test:stage2-reference',
      ({ ids, eot, ctx, arrangements, hand, w1, b1, w2, b2 }: Inputs<string>) => {
        const tokens = model.embedTokens(ids);
        const features = [0, 1, 2].map((a) =>
          model.encodeTextEmbeddings(
            arrangedEmbeddings(tokens, ctx, arrangements.slice(0, a, a + 1).reshape([classes, length])),
            eot,
          ),
        );
        const loss = contrastiveLoss([...features, hand], [w1, b1, w2, b2], options.temperature);
        return { loss, grad: grad(loss, [ctx])[0] };
      },
    );
    const [p, hidden, out] = head.sizes;
    const fn = await encoder.engine.compile(reference, {
      inputs: {
        ids: { shape: [classes, length], dtype: 'int64' },
        eot: { shape: [classes], dtype: 'int64' },
        arrangements: { shape: [3, classes, length], dtype: 'int64' },
        hand: { shape: [classes, p] },
        ctx: { shape: [target.nCtx, model.config.text.hiddenSize] },
        w1: { shape: [hidden, p] },
        b1: { shape: [hidden] },
        w2: { shape: [out, hidden] },
        b2: { shape: [out] },
      },
    });
    const ctx = Float32Array.from(source.ctx);
    const optimizer = new AdamW([ctx.length], { lr: options.adaptLr });
    const losses = [];
    for (let step = 0; step < options.adaptSteps; step++) {
      const result = await fn.run({
        ids: target.ids,
        eot: target.eot,
        arrangements: cptArrangements(target.ids, target.eot, length, target.nCtx),
        hand: target.textFeatures,
        ctx,
        ...head,
      });
      losses.push((result.loss.data as Float32Array)[0]);
      optimizer.update([ctx], [result.grad.data as Float32Array]);
    }
    expectClose(adapted.losses, losses, 1e-5);
    expectClose(adapted.ctx, ctx, 1e-5);
  });
});
