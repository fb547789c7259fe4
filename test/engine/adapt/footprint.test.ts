import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ADAPT_DEFAULTS } from '../../../src/engine/adapt/adapt.js';
import type { MetaOptions } from '../../../src/engine/adapt/metatpt.js';
import { PromptSet } from '../../../src/engine/adapt/prompts.js';
import {
  boundTheta,
  boundThetaTensor,
  footprintCorners,
  MIN_VIEW_AREA,
  tptViewThetas,
  type Theta,
} from '../../../src/engine/adapt/views.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { Random } from '../../../src/engine/random.js';
import { Engine, traced } from '../../../src/engine/runtime.js';
import { GOLDEN_MODEL_DIR, goldenIndex } from '../../fixtures/golden/load.js';
import { Classifier } from '../../../src/engine/adapt/classifier.js';

/** Tolerance of float32 arithmetic on θ. */
const EPS = 1e-5;

/** θ with entries far outside what a crop has: scales up to ±3, shears up to ±2, centres up to ±3. */
function wildThetas(count: number, seed: number): Theta[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => [
    random.uniform(-3, 3),
    random.uniform(-2, 2),
    random.uniform(-3, 3),
    random.uniform(-2, 2),
    random.uniform(-3, 3),
    random.uniform(-3, 3),
  ]);
}

/** Throws unless θ's footprint lies inside the image and covers at least MIN_VIEW_AREA of it. */
function expectValidView(theta: Theta): void {
  for (const [x, y] of footprintCorners(theta)) {
    expect(Math.abs(x)).toBeLessThanOrEqual(1 + EPS);
    expect(Math.abs(y)).toBeLessThanOrEqual(1 + EPS);
  }
  expect(Math.abs(theta[0] * theta[4] - theta[1] * theta[3])).toBeGreaterThanOrEqual(MIN_VIEW_AREA - EPS);
}

describe('the footprint bound of a learned view', () => {
  it('puts every random θ inside the image with at least the minimum area, keeping mirrors', () => {
    const thetas = [
      ...wildThetas(2000, 1),
      [0.001, 0, 0, 0, -0.001, 0] as Theta,
      [0, 0, 0, 0, 0, 0] as Theta,
    ];
    for (const theta of thetas) {
      const bounded = boundTheta(theta);
      expectValidView(bounded);
      if (theta[0] !== 0) expect(Math.sign(bounded[0])).toBe(Math.sign(theta[0]));
      if (theta[4] !== 0) expect(Math.sign(bounded[4])).toBe(Math.sign(theta[4]));
      expect(boundTheta(bounded)).toEqual(bounded);
    }
  });

  it('leaves TPT’s crops unchanged, so that zero inner steps stay exactly TPT', () => {
    for (const theta of tptViewThetas(new Random(4), 500, 300, 200)) expect(boundTheta(theta)).toEqual(theta);
  });

  it('gives the same views when traced as a graph (the second-order variant’s inner steps)', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const thetas = wildThetas(300, 2);
    const fn = await engine.compile(
      traced('bound-theta', ({ theta }) => ({ bounded: boundThetaTensor(theta) })),
      { inputs: { theta: { shape: [thetas.length, 2, 3] } } },
    );
    const out = (await fn.run({ theta: thetas.flat() })).bounded.data as Float32Array;
    thetas.forEach((theta, v) => {
      const expected = boundTheta(Float32Array.from(theta));
      out.subarray(v * 6, v * 6 + 6).forEach((x, k) => expect(x).toBeCloseTo(expected[k], 5));
    });
    await engine.dispose();
  });
});

describe('views learned by MetaTPT', () => {
  it('stay on the image after many large inner steps, in every variant and inner optimiser', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const prompts = await PromptSet.create(
      new ClipEncoder(ClipModel.load(GOLDEN_MODEL_DIR), engine),
      goldenIndex.class_names.slice(0, 6),
    );
    const svg =
      '<svg width="80" height="64"><rect width="80" height="64" fill="#c83"/><circle cx="24" cy="30" r="16" fill="#14c"/></svg>';
    const classifier = new Classifier(prompts);
    const image = await classifier.prepare(
      await sharp(Buffer.from(svg))
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true })
        .then(({ data, info }) => ({
          width: info.width,
          height: info.height,
          data: new Uint8Array(data),
        })),
    );
    // Second-order unrolls its steps inside one graph: two keep that graph small.
    const variants: Partial<MetaOptions>[] = [
      { variant: 'two-stage', innerOptimizer: 'sgd', innerSteps: 8 },
      { variant: 'two-stage', innerOptimizer: 'adam', innerSteps: 8 },
      { variant: 'one-stage', innerOptimizer: 'sgd', innerSteps: 4 },
      { variant: 'second-order', innerSteps: 2 },
    ];
    for (const meta of variants) {
      const result = await classifier.run(image, {
        ...ADAPT_DEFAULTS,
        method: 'metatpt',
        views: 8,
        meta: { ...ADAPT_DEFAULTS.meta, innerLr: 0.6, ...meta },
      });
      for (const view of result.views!) expectValidView(view.theta);
    }
    await engine.dispose();
  });
});
