// Results shaped like the engine's, for tests that exercise the store and the queue without a model.
import { join } from 'node:path';
import type { ImageResult } from '../../src/backend/store/index.js';

/** A plausible result over three classes; `seed` varies the numbers. */
export function fakeResult(seed: number, views = 0): ImageResult {
  const a = ((seed * 37) % 90) / 100 + 0.05;
  const probs = new Float32Array([a, (1 - a) * 0.7, (1 - a) * 0.3]);
  // Every third result agrees with zero-shot; the others disagree.
  const zeroShotProbs = seed % 3 === 0 ? probs.slice() : new Float32Array([(1 - a) * 0.3, a, (1 - a) * 0.7]);
  const entropy = (p: Float32Array) => -Array.from(p).reduce((s, x) => s + x * Math.log(x), 0);
  const argmax = (p: Float32Array) => p.indexOf(Math.max(...p));
  return {
    label: argmax(probs),
    probs,
    zeroShotProbs,
    entropy: entropy(probs),
    zeroShotEntropy: entropy(zeroShotProbs),
    adapted: views > 0,
    ctx: views > 0 ? { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) } : undefined,
    nearestTokens: views > 0 ? [['a'], ['photo']] : undefined,
    views: Array.from({ length: views }, (_, v) => ({
      theta: [1, 0, v / 10, 0, 1, 0],
      entropy: v / 2,
      selected: v < 2,
    })),
    losses: views > 0 ? { outer: [1.5, 1.2] } : undefined,
    timings: { total: 12.5 },
  };
}

/**
 * The executor's image resolver for seeded collections, whose rows name files that do not exist:
 * the path the row names, unchecked (the real rule, resolveInsideRoot, has tests of its own).
 */
export const namedPath = async (root: string, relPath: string): Promise<string> => join(root, relPath);
