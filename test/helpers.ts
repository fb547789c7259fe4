// Assertions shared by the numeric tests.
import { expect } from 'vitest';

/** max |a - b| ≤ relative · max |b|, reported with the worst index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, relative: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let at = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    const diff = Math.abs(actual[i] - expected[i]);
    if (diff > worst) [worst, at] = [diff, i];
  }
  expect(worst, `worst at ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThanOrEqual(relative * scale);
}
