import { describe, expect, it } from 'vitest';
import { grad } from '../../../src/engine/grad.js';
import {
  arrangedEmbeddings,
  contrastiveLoss,
  cptArrangements,
  gradientMatchingLoss,
} from '../../../src/engine/adapt/selftpt.js';
import { constant, type Tensor } from '../../../src/engine/tensor.js';
import { checkGradient } from '../gradcheck.js';

// A toy text "tower" in float64 over real CPT arrangements: 3 classes, 6 positions, 2 context vectors.
const ids = Int32Array.from({ length: 18 }, (_, i) => 100 + i);
const eot = Int32Array.from([5, 4, 5]);
const arrangements = cptArrangements(ids, eot, 6, 2);
const shapes = {
  tokens: { shape: [3, 6, 4] },
  ctx: { shape: [2, 4] },
  hand: { shape: [3, 4] },
  w1: { shape: [5, 4] },
  b1: { shape: [5] },
  w2: { shape: [3, 5] },
  b2: { shape: [3] },
};

function toyCpt(x: Record<string, Tensor>): Tensor {
  const index = constant(arrangements, [3, 3, 6], 'int64');
  const views = [0, 1, 2].map((a) =>
    arrangedEmbeddings(x.tokens, x.ctx, index.slice(0, a, a + 1).reshape([3, 6]))
      .tanh()
      .mean(1),
  );
  return contrastiveLoss([...views, x.hand], [x.w1, x.b1, x.w2, x.b2], 0.5);
}

describe('Self-TPT losses', () => {
  it('places the class tokens after, between and before the context', () => {
    const rows = (a: number, c: number) =>
      [...arrangements.subarray((a * 3 + c) * 6, (a * 3 + c + 1) * 6)].map(Number);
    const ctx = (j: number) => 18 + j;
    // Class 0: positions 1, 2 are the context, 3, 4 the class part, 5 end-of-text.
    expect(rows(0, 0)).toEqual([0, ctx(0), ctx(1), 3, 4, 5]);
    expect(rows(1, 0)).toEqual([0, ctx(0), 3, 4, ctx(1), 5]);
    expect(rows(2, 0)).toEqual([0, 3, 4, ctx(0), ctx(1), 5]);
    // Class 1 has one class token; what follows end-of-text stays in place.
    expect(rows(2, 1)).toEqual([6, 9, ctx(0), ctx(1), 10, 11]);
    expect(() => cptArrangements(ids, Int32Array.from([3, 4, 5]), 6, 2)).toThrow(/no class tokens/);
  });

  it('CPT gradient matches finite differences', async () => {
    await checkGradient(shapes, toyCpt, { tolerance: 1e-5 });
  });

  it('the gradient-matching loss (a gradient of gradients) matches finite differences', async () => {
    await checkGradient(
      { ...shapes, reference: { shape: [2, 4] } },
      (x) => gradientMatchingLoss(grad(toyCpt(x), [x.ctx])[0], x.reference),
      { tolerance: 1e-5 },
    );
  });
});
