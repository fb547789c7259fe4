import { describe, expect, it } from 'vitest';
import { stratifiedSplit } from '../../../src/backend/export/index.js';
import { splitCounts } from '../../../src/backend/export/split.js';

function keys(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}/${String(i).padStart(3, '0')}.png`);
}

const CLASSES = new Map([
  ['cat', keys('cat', 50)],
  ['dog', keys('dog', 30)],
  ['rare', keys('rare', 3)],
]);

describe('stratifiedSplit', () => {
  it('splits every class in the asked proportions', () => {
    const split = stratifiedSplit(CLASSES, { train: 0.8, val: 0.1, test: 0.1, seed: 7 });
    const count = (prefix: string, name: string) =>
      [...split].filter(([key, s]) => key.startsWith(prefix) && s === name).length;
    expect([count('cat', 'train'), count('cat', 'val'), count('cat', 'test')]).toEqual([40, 5, 5]);
    expect([count('dog', 'train'), count('dog', 'val'), count('dog', 'test')]).toEqual([24, 3, 3]);
    // A class too small for the ratios still reaches every held-out split.
    expect([count('rare', 'train'), count('rare', 'val'), count('rare', 'test')]).toEqual([1, 1, 1]);
    expect(split.size).toBe(83);
  });

  it('is the same for the same seed, whatever the input order, and differs for another seed', () => {
    const ratios = { train: 0.7, val: 0.3, seed: 42 };
    const a = stratifiedSplit(CLASSES, ratios);
    const reversed = new Map([...CLASSES].reverse().map(([k, v]) => [k, [...v].reverse()]));
    expect(new Map([...stratifiedSplit(reversed, ratios)].sort())).toEqual(new Map([...a].sort()));
    const b = stratifiedSplit(CLASSES, { ...ratios, seed: 43 });
    expect([...a].filter(([key, s]) => b.get(key) !== s).length).toBeGreaterThan(0);
  });

  it('does not reshuffle a class when another class is added', () => {
    const ratios = { train: 0.5, val: 0.5, seed: 1 };
    const before = stratifiedSplit(new Map([['cat', keys('cat', 20)]]), ratios);
    const after = stratifiedSplit(
      new Map([
        ['cat', keys('cat', 20)],
        ['ant', keys('ant', 9)],
      ]),
      ratios,
    );
    for (const [key, s] of before) expect(after.get(key)).toBe(s);
  });
});

describe('splitCounts', () => {
  it('always adds up to n', () => {
    for (let n = 0; n < 40; n++) {
      const c = splitCounts(n, { train: 0.6, val: 0.25, test: 0.15, seed: 0 });
      expect(c.train + c.val + c.test).toBe(n);
    }
  });
});
