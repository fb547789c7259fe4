import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADAPT_DEFAULTS, type AdaptOptions, type PreparedImage } from '../../../src/engine/adapt/adapt.js';
import { innerChunkSize, ViewGraphs } from '../../../src/engine/adapt/metatpt.js';
import { nearestTokens, PromptSet } from '../../../src/engine/adapt/prompts.js';
import { boundTheta, tptViewThetas } from '../../../src/engine/adapt/views.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { Random } from '../../../src/engine/random.js';
import { Engine } from '../../../src/engine/runtime.js';
import { GOLDEN_MODEL_DIR, goldenIndex } from '../../fixtures/golden/load.js';
import { Classifier } from '../../../src/engine/adapt/classifier.js';

let prompts: PromptSet;
let classifier: Classifier;
let image: PreparedImage;

const options = (
  overrides: Omit<Partial<AdaptOptions>, 'meta'> & { meta?: Partial<AdaptOptions['meta']> } = {},
): AdaptOptions => ({
  ...ADAPT_DEFAULTS,
  views: 16,
  ...overrides,
  meta: { ...ADAPT_DEFAULTS.meta, ...overrides.meta },
});

beforeAll(async () => {
  const encoder = new ClipEncoder(
    ClipModel.load(GOLDEN_MODEL_DIR),
    new Engine({ provider: 'cpu', log: () => {} }),
  );
  prompts = await PromptSet.create(encoder, goldenIndex.class_names.slice(0, 12));
  classifier = new Classifier(prompts);
  const dir = mkdtempSync(join(tmpdir(), 'adapt-'));
  const path = join(dir, 'shapes.png');
  const svg =
    '<svg width="90" height="60"><rect width="90" height="60" fill="#c83"/><circle cx="30" cy="30" r="18" fill="#14c"/><rect x="55" y="10" width="25" height="40" fill="#eee"/></svg>';
  await sharp(Buffer.from(svg)).png().toFile(path);
  image = await classifier.prepare(path);
});

describe('per-image adaptation', () => {
  it('MetaTPT with zero inner steps gives exactly the TPT result for the same seed', async () => {
    const tpt = await classifier.run(image, options({ method: 'tpt', seed: 5 }));
    const meta = await classifier.run(
      image,
      options({ method: 'metatpt', seed: 5, meta: { innerSteps: 0 } }),
    );
    expect(meta.adapted).toBe(true);
    expect([...meta.probs]).toEqual([...tpt.probs]);
    expect([...meta.ctx!]).toEqual([...tpt.ctx!]);
    expect(meta.views).toEqual(tpt.views);
    expect(meta.losses.outer).toEqual(tpt.losses.outer);
  });

  it('AugMix views: deterministic per seed, different from plain crops, still TPT == MetaTPT with K_in = 0', async () => {
    const plain = await classifier.run(image, options({ method: 'tpt', seed: 2 }));
    const mixed = await classifier.run(image, options({ method: 'tpt', seed: 2, augmix: true }));
    const again = await classifier.run(
      image,
      options({ method: 'metatpt', seed: 2, augmix: true, meta: { innerSteps: 0 } }),
    );
    expect(mixed.views!.map((v) => v.entropy)).not.toEqual(plain.views!.map((v) => v.entropy));
    expect([...again.probs]).toEqual([...mixed.probs]);
    expect(again.views).toEqual(mixed.views);
  });

  it('with one view the result is deterministic and independent of the seed', async () => {
    const a = await classifier.run(image, options({ method: 'tpt', views: 1, seed: 1 }));
    const b = await classifier.run(image, options({ method: 'tpt', views: 1, seed: 99 }));
    expect(a.views).toHaveLength(1);
    expect(a.views![0].selected).toBe(true);
    expect([...a.probs]).toEqual([...b.probs]);
    expect([...a.ctx!]).toEqual([...b.ctx!]);
  });

  it('TPT changes the prediction distribution and keeps what a reviewer needs', async () => {
    const result = await classifier.run(image, options({ method: 'tpt', views: 20 }));
    expect(result.views).toHaveLength(20);
    expect(result.views!.filter((v) => v.selected)).toHaveLength(2);
    expect(result.views![0].theta).toEqual([1, 0, 0, 0, 1, 0]);
    expect(result.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect([...result.probs]).not.toEqual([...result.zeroShotProbs]);
    expect(result.ctx).toHaveLength(4 * prompts.encoder.model.config.text.hiddenSize);
    expect(Object.keys(result.timings)).toEqual(
      expect.arrayContaining(['encodeOriginal', 'encodeViews', 'tunePrompt']),
    );
  });

  it('MetaTPT learns the views: θ moves from the TPT crops and stays a valid warp', async () => {
    const seed = 3;
    const result = await classifier.run(image, options({ method: 'metatpt', seed, meta: { innerSteps: 2 } }));
    const initial = tptViewThetas(new Random(seed), 16, image.width, image.height);
    expect(result.losses.inner).toHaveLength(2);
    const moved = result
      .views!.slice(1)
      .filter((v, i) => v.theta.some((x, k) => Math.abs(x - initial[i + 1][k]) > 1e-4));
    expect(moved.length).toBeGreaterThan(10);
    // Normalised SGD: each view moves in proportion to its gradient, not by a fixed nudge.
    const moves = result
      .views!.slice(1)
      .map((v, i) => Math.hypot(...v.theta.map((x, k) => x - initial[i + 1][k])));
    expect(Math.max(...moves)).toBeGreaterThan(2 * Math.min(...moves));
    // A valid view is a fixed point of the footprint bound.
    for (const v of result.views!) expect(boundTheta(v.theta)).toEqual(v.theta);
  });

  it('MetaTPT gives the same θ and probabilities whether the inner loop runs view by view or all at once', async () => {
    const run = (chunk: number) =>
      classifier.run(image, options({ method: 'metatpt', seed: 4, chunk, meta: { innerSteps: 2 } }));
    const [single, whole] = [await run(1), await run(16)];
    expect(single.losses.inner.length).toBe(2);
    single.losses.inner.forEach((loss, k) => expect(loss).toBeCloseTo(whole.losses.inner[k], 5));
    single.views!.forEach((view, v) =>
      view.theta.forEach((x, k) => expect(Math.abs(x - whole.views![v].theta[k])).toBeLessThan(1e-5)),
    );
    single.probs.forEach((p, c) => expect(Math.abs(p - whole.probs[c])).toBeLessThan(1e-5));
    expect(single.label).toBe(whole.label);
  });

  it("sizes the inner loop's chunks from the memory it may take, in as few runs as fit", () => {
    const vitB16 = {
      hiddenSize: 768,
      intermediateSize: 3072,
      numHeads: 12,
      numLayers: 12,
      imageSize: 224,
      patchSize: 16,
      numChannels: 3,
      hiddenAct: 'quick_gelu' as const,
      layerNormEps: 1e-5,
    };
    const GiB = 2 ** 30;
    // About 153 MiB a view: 1 GiB takes 6 views, so 63 views run as 11 chunks of at most 6.
    expect(innerChunkSize(vitB16, 63, 16, 64 * GiB)).toBe(6);
    expect(innerChunkSize(vitB16, 15, 16, 64 * GiB)).toBe(5);
    expect(innerChunkSize(vitB16, 63, 4, 64 * GiB)).toBe(4);
    // A quarter of 2 GiB available: 3 views.
    expect(innerChunkSize(vitB16, 63, 16, 2 * GiB)).toBe(3);
    expect(innerChunkSize(vitB16, 63, 16, 0)).toBe(1);
  });

  it('the one-stage and second-order variants run, tune the context, and differ from TPT', async () => {
    const tpt = await classifier.run(image, options({ method: 'tpt' }));
    for (const variant of ['one-stage', 'second-order'] as const) {
      const result = await classifier.run(image, options({ method: 'metatpt', meta: { variant } }));
      expect(result.losses.outer).toHaveLength(1);
      expect([...result.ctx!]).not.toEqual([...prompts.ctxInit]);
      // One-stage: θ's block step comes before the prompt's, so even one step uses the learned views.
      expect([...result.ctx!]).not.toEqual([...tpt.ctx!]);
    }
  });

  it('adapts only images whose zero-shot entropy is above the threshold', async () => {
    const zeroShot = await classifier.run(image, options({ method: 'zeroshot' }));
    expect(zeroShot.adapted).toBe(false);
    const skipped = await classifier.run(
      image,
      options({ method: 'tpt', minEntropy: zeroShot.zeroShotEntropy + 0.01 }),
    );
    expect(skipped.adapted).toBe(false);
    expect([...skipped.probs]).toEqual([...zeroShot.probs]);
    const adapted = await classifier.run(
      image,
      options({ method: 'tpt', minEntropy: zeroShot.zeroShotEntropy - 0.01 }),
    );
    expect(adapted.adapted).toBe(true);
  });

  it('the meta-gradient (through a differentiable inner step) matches finite differences', async () => {
    const graphs = new ViewGraphs(prompts, image.source);
    const thetas = tptViewThetas(new Random(11), 3, image.width, image.height).slice(1);
    const width = prompts.encoder.projectionDim;
    const feeds = {
      source: image.source.data,
      theta: thetas.flat(),
      theta0: thetas.flat(),
      ids: prompts.ids,
      eot: prompts.eot,
      anchor: new Float32Array(width).fill(1 / Math.sqrt(width)),
      weights: [0.5, 0.5, 0],
    };
    const ctx = Float32Array.from(prompts.ctxInit);
    // A large inner step, so that the path through the learned views carries a real share of the
    // gradient; it pushes some views against the footprint bound, whose kinks (like the warp's pixel
    // cells) make the finite difference only approximate, hence 10 %.
    const INNER_LR = 0.3;
    const metaStep = await graphs.outerStep(2, true, 1);
    const run = (at: Float32Array, innerLr: number) =>
      metaStep.run({ ...feeds, ctx: at, outerWeights: [innerLr, 0, 0] });
    const g = (await run(ctx, INNER_LR)).gradCtx.data as Float32Array;
    const firstOrder = (await run(ctx, 0)).gradCtx.data as Float32Array;
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
    const norm = Math.sqrt(dot(g, g));
    // The warp is piecewise smooth in θ: a small step keeps the sampling points in their pixel cells.
    const eps = 1e-3;
    const loss = async (sign: number) =>
      (
        (
          await run(
            Float32Array.from(ctx, (c, i) => c + (sign * eps * g[i]) / norm),
            INNER_LR,
          )
        ).loss.data as Float32Array
      )[0];
    const numeric = ((await loss(1)) - (await loss(-1))) / (2 * eps);
    expect(Math.abs(numeric - norm) / norm).toBeLessThan(0.1);
    expect(Math.abs(dot(firstOrder, g) / norm - norm) / norm).toBeGreaterThan(0.1);
  });

  it('starts the learned context from a separate context init of the same length', async () => {
    const { encoder } = prompts;
    const names = goldenIndex.class_names.slice(0, 12);
    const other = await PromptSet.create(encoder, names, { contextInit: 'an image of the' });
    expect(nearestTokens(encoder, other.ctxInit, 1).map((t) => t[0].token.trim())).toEqual([
      'an',
      'image',
      'of',
      'the',
    ]);
    expect([...other.textFeatures]).toEqual([...prompts.textFeatures]);
    expect([...other.contextFeatures]).not.toEqual([...other.textFeatures]);
    await expect(PromptSet.create(encoder, names, { contextInit: 'a photo' })).rejects.toThrow(
      'the context init "a photo" has 2 tokens, but the words before {} in "a photo of a {}." have 4',
    );
  });

  it('reads the tuned prompt back as the nearest vocabulary tokens', async () => {
    const tokens = nearestTokens(prompts.encoder, prompts.ctxInit, 1);
    expect(tokens.map((t) => t[0].token.trim())).toEqual(['a', 'photo', 'of', 'a']);
    expect(tokens[0][0].distance).toBe(0);
  });
});
