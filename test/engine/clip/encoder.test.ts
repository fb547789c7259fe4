import { describe, expect, it } from 'vitest';
import { planTextBuckets } from '../../../src/engine/clip/encoder.js';

describe('planTextBuckets', () => {
  // Prompt lengths (eot + 1): 8, 14, 9, 8, 9, 10, 8.
  const eot = Int32Array.from([7, 13, 8, 7, 8, 9, 7]);
  const positions = (buckets: { rows: number; length: number }[]) =>
    buckets.reduce((n, b) => n + b.rows * b.length, 0);

  it('orders rows by length and splits them where the fewest positions are computed', () => {
    expect(planTextBuckets(eot, 1)).toEqual({
      order: Int32Array.from([0, 3, 6, 2, 4, 5, 1]),
      buckets: [{ rows: 7, length: 14 }],
    });
    // Two: cut after 8 → 24 + 56, after 9 → 45 + 28, after 10 → 60 + 14.
    expect(planTextBuckets(eot, 2).buckets).toEqual([
      { rows: 5, length: 9 },
      { rows: 2, length: 14 },
    ]);
    // Three: {8} {9, 10} {14} = 68 beats {8} {9} {10, 14} = 70 and {8, 9} {10} {14} = 69.
    const three = planTextBuckets(eot, 3).buckets;
    expect(three).toEqual([
      { rows: 3, length: 8 },
      { rows: 3, length: 10 },
      { rows: 1, length: 14 },
    ]);
    expect(positions(three)).toBe(68);
    // Never more buckets than distinct lengths.
    expect(planTextBuckets(eot, 10).buckets).toHaveLength(4);
    expect(planTextBuckets(Int32Array.from([5, 5, 5]), 3).buckets).toEqual([{ rows: 3, length: 6 }]);
    expect(() => planTextBuckets(eot, 0)).toThrow(/at least 1/);
  });
});
