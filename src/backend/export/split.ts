// Seeded, stratified train/val/test split: the same items, ratios and seed always give the same split.
import { Random, seedFrom } from '../../engine/random.js';
import type { SplitName, SplitRatios } from './types.js';

function shuffleInPlace<T>(values: T[], random: () => number): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j], values[i]];
  }
}

/**
 * Split sizes for `n` items by largest remainder, so they add up to `n` exactly; a held-out split
 * with a non-zero ratio gets at least one item while train keeps at least one, so small classes
 * still appear in validation.
 */
export function splitCounts(n: number, ratios: SplitRatios): Record<SplitName, number> {
  const names: SplitName[] = ['train', 'val', 'test'];
  const exact = names.map((name) => n * (name === 'test' ? (ratios.test ?? 0) : ratios[name]));
  const counts = exact.map(Math.floor);
  const byRemainder = names
    .map((_, i) => i)
    .sort((a, b) => exact[b] - counts[b] - (exact[a] - counts[a]) || a - b);
  let left = n - counts.reduce((sum, c) => sum + c, 0);
  for (const i of byRemainder) {
    if (left === 0) break;
    if (exact[i] > 0) {
      counts[i]++;
      left--;
    }
  }
  for (const i of [1, 2]) {
    if (exact[i] > 0 && counts[i] === 0 && counts[0] > 1) {
      counts[i]++;
      counts[0]--;
    }
  }
  return { train: counts[0], val: counts[1], test: counts[2] };
}

/**
 * Assigns each key to a split, class by class (stratified). Within a class the keys are sorted
 * first, so the input order does not matter, then shuffled with a stream seeded by (seed, class),
 * so adding a class does not reshuffle the others.
 */
export function stratifiedSplit(
  keysByClass: Map<string, string[]>,
  ratios: SplitRatios,
): Map<string, SplitName> {
  const assignment = new Map<string, SplitName>();
  for (const [className, keys] of keysByClass) {
    const order = [...keys].sort();
    const rng = new Random(seedFrom(ratios.seed, className));
    shuffleInPlace(order, () => rng.next());
    const counts = splitCounts(order.length, ratios);
    let index = 0;
    for (const split of ['train', 'val', 'test'] as const) {
      for (let k = 0; k < counts[split]; k++) assignment.set(order[index++], split);
    }
  }
  return assignment;
}
