import { describe, expect, it } from 'vitest';
import {
  accuracy,
  comparePaired,
  ECE_BINS,
  exactMcNemarP,
  expectedCalibrationError,
  formatPValue,
  median,
  wilsonInterval,
} from '../../../src/shared/domain/evaluation.js';

describe('accuracy', () => {
  it('is correct over total, and refuses impossible counts', () => {
    expect(accuracy(3, 4)).toBe(0.75);
    expect(() => accuracy(0, 0)).toThrow(/trials/);
    expect(() => accuracy(5, 4)).toThrow(/successes/);
    expect(() => accuracy(1.5, 4)).toThrow(/successes/);
  });
});

describe('wilsonInterval', () => {
  it('matches the hand-computed 95 % interval of 8 of 10', () => {
    // z² = 3.841459, z²/n = 0.3841459; centre = 0.8 + 0.1920729 = 0.9920729;
    // half = z·√(0.8·0.2/10 + 3.841459/400) = 1.959964·√0.0256036 = 0.3136171;
    // bounds = (0.9920729 ∓ 0.3136171) / 1.3841459 = 0.490162, 0.943318.
    const { low, high } = wilsonInterval(8, 10);
    expect(low).toBeCloseTo(0.490162, 6);
    expect(high).toBeCloseTo(0.943318, 6);
  });

  it('has the closed forms z²/(n + z²) and n/(n + z²) at 0 and n successes', () => {
    // 3.841459 / 13.841459 = 0.277533; 10 / 13.841459 = 0.722467.
    expect(wilsonInterval(0, 10)).toEqual({ low: 0, high: expect.closeTo(0.277533, 6) });
    expect(wilsonInterval(10, 10)).toEqual({ low: expect.closeTo(0.722467, 6), high: 1 });
  });

  it('narrows with more trials around the same proportion', () => {
    // 81 of 100: 0.722212 to 0.874852 (scipy.stats.binomtest(81, 100).proportion_ci('wilson') agrees).
    const { low, high } = wilsonInterval(81, 100);
    expect(low).toBeCloseTo(0.722212, 6);
    expect(high).toBeCloseTo(0.874852, 6);
    const wide = wilsonInterval(8, 10);
    expect(high - low).toBeLessThan(wide.high - wide.low);
  });
});

describe('exactMcNemarP', () => {
  it('matches hand-computed binomial tails', () => {
    // n = 10: P(X ≤ 1) = (1 + 10)/1024, two-sided 22/1024.
    expect(exactMcNemarP(1, 9)).toBeCloseTo(22 / 1024, 15);
    // n = 10: P(X ≤ 2) = (1 + 10 + 45)/1024, two-sided 112/1024.
    expect(exactMcNemarP(2, 8)).toBeCloseTo(112 / 1024, 15);
    // n = 5: P(X = 0) = 1/32, two-sided 2/32.
    expect(exactMcNemarP(0, 5)).toBeCloseTo(0.0625, 15);
  });

  it('is symmetric, and 1 when fixed and broken balance or there are no discordant pairs', () => {
    expect(exactMcNemarP(9, 1)).toBe(exactMcNemarP(1, 9));
    expect(exactMcNemarP(3, 3)).toBe(1);
    // n = 7: P(X ≤ 3) = (1 + 7 + 21 + 35)/128 = 1/2, doubled and capped at 1.
    expect(exactMcNemarP(4, 3)).toBe(1);
    expect(exactMcNemarP(0, 0)).toBe(1);
  });

  it('holds where 2ⁿ overflows a double', () => {
    // References from scipy.stats.binomtest(k, n, 0.5).pvalue.
    expect(exactMcNemarP(450, 550)).toBeCloseTo(0.0017305360849763027, 12);
    expect(exactMcNemarP(4000, 4200)).toBeCloseTo(0.027972423571324654, 10);
  });

  it('refuses negative or fractional counts', () => {
    expect(() => exactMcNemarP(-1, 3)).toThrow(/fixed/);
    expect(() => exactMcNemarP(1, 2.5)).toThrow(/broken/);
  });
});

describe('expectedCalibrationError', () => {
  const confidences = [0.95, 0.85, 0.62, 0.58, 0.25];
  const correct = [true, false, true, false, false];

  it('matches the hand-computed value when every prediction has its own bin', () => {
    // 10 bins: each confidence alone in its bin, so ECE = mean |correct − confidence|
    // = (0.05 + 0.85 + 0.38 + 0.58 + 0.25) / 5 = 0.422.
    expect(expectedCalibrationError(confidences, correct, 10)).toBeCloseTo(0.422, 12);
  });

  it('matches the hand-computed value when bins pool predictions', () => {
    // 2 bins: (0.5, 1] holds four (accuracy 0.5, mean confidence 0.75): 4/5 · 0.25 = 0.2;
    // (0, 0.5] holds 0.25 (wrong): 1/5 · 0.25 = 0.05. ECE = 0.25.
    expect(expectedCalibrationError(confidences, correct, 2)).toBeCloseTo(0.25, 12);
    // 1 bin: |accuracy 0.4 − mean confidence 0.65| = 0.25.
    expect(expectedCalibrationError(confidences, correct, 1)).toBeCloseTo(0.25, 12);
  });

  it('puts a bin edge in the lower bin and zero confidence in the first', () => {
    // With 2 bins, 0.5 belongs to (0, 0.5]: with 0.9 it would pool to |0.5 − 0.7| = 0.2 instead.
    expect(expectedCalibrationError([0.5, 0.9], [false, true], 2)).toBeCloseTo((0.5 + 0.1) / 2, 12);
    expect(expectedCalibrationError([0], [false], 4)).toBe(0);
  });

  it('uses 15 bins by default and refuses bad input', () => {
    expect(ECE_BINS).toBe(15);
    expect(() => expectedCalibrationError([0.5], [true, false])).toThrow(/1 confidences but 2/);
    expect(() => expectedCalibrationError([], [])).toThrow(/no predictions/);
    expect(() => expectedCalibrationError([1.2], [true])).toThrow(/outside/);
    expect(() => expectedCalibrationError([0.5], [true], 0)).toThrow(/bins/);
  });
});

describe('comparePaired', () => {
  it('scores both sides on the same images and counts fixed and broken', () => {
    // truth 0 everywhere; run right on 1, 2, 3; baseline right on 3, 4.
    const images = [
      { truth: 0, predicted: 0, confidence: 0.9, baselinePredicted: 1, baselineConfidence: 0.6 },
      { truth: 0, predicted: 0, confidence: 0.8, baselinePredicted: 2, baselineConfidence: 0.5 },
      { truth: 0, predicted: 0, confidence: 0.7, baselinePredicted: 0, baselineConfidence: 0.4 },
      { truth: 0, predicted: 1, confidence: 0.6, baselinePredicted: 0, baselineConfidence: 0.3 },
    ];
    const result = comparePaired(images, 10);
    expect(result.n).toBe(4);
    expect(result).toMatchObject({ fixed: 2, broken: 1, eceBins: 10 });
    // n = 3 discordant, k = 1: 2 · (1 + 3)/8 = 1.
    expect(result.mcnemarP).toBe(1);
    expect(result.run).toMatchObject({ correct: 3, accuracy: 0.75 });
    expect(result.baseline).toMatchObject({ correct: 2, accuracy: 0.5 });
    expect(result.run.accuracyCi).toEqual(wilsonInterval(3, 4));
    // Run: each in its own bin: (0.1 + 0.2 + 0.3 + 0.6)/4 = 0.3.
    expect(result.run.ece).toBeCloseTo(0.3, 12);
    // Baseline: (0.6 + 0.5 + 0.6 + 0.7)/4 = 0.6.
    expect(result.baseline.ece).toBeCloseTo(0.6, 12);
    expect(() => comparePaired([])).toThrow(/no labelled images/);
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('formatPValue', () => {
  it('prints three decimals, or scientific notation below 0.001', () => {
    expect(formatPValue(1)).toBe('1.000');
    expect(formatPValue(0.021484375)).toBe('0.021');
    expect(formatPValue(0.00173)).toBe('0.002');
    expect(formatPValue(0.000173)).toBe('1.7e-4');
  });
});
