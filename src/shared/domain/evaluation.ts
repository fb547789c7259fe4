// Statistics for comparing a classifier run with ground-truth labels and with a paired baseline on the
// same images (an adapted run against its zero-shot predictions). Pure functions over plain numbers, so
// the backend, the CLI, the renderer and the benchmarks all report the same arithmetic.

/** The normal quantile for a two-sided 95 % interval, Φ⁻¹(0.975). */
export const Z_95 = 1.959963984540054;

/**
 * Equal-width confidence bins for the expected calibration error: 15, as in Guo et al., "On
 * Calibration of Modern Neural Networks" (ICML 2017), which most calibration tables since follow.
 */
export const ECE_BINS = 15;

/**
 * Which labels count as the truth: 'reviewed' = the expert's decisions (given by hand or by accepting a
 * prediction), 'imported' = labels read from a file (kept apart from the decisions), 'all' = the
 * expert's label where there is one, else the imported one. Only decisions that name a class count; a
 * rejection says what an image is not, a skip says nothing (an imported label then still counts for
 * 'all').
 */
export const LABEL_KINDS = ['all', 'reviewed', 'imported'] as const;
export type LabelKind = (typeof LABEL_KINDS)[number];

export interface Interval {
  low: number;
  high: number;
}

/** Fraction correct, correct / total. Throws a RangeError unless 0 ≤ correct ≤ total and total ≥ 1. */
export function accuracy(correct: number, total: number): number {
  checkCounts(correct, total);
  return correct / total;
}

/**
 * Wilson score interval for a binomial proportion p̂ = successes / trials (Wilson 1927; recommended
 * over the Wald interval by Brown, Cai & DasGupta, "Interval Estimation for a Binomial Proportion",
 * Statistical Science 2001):
 *
 *   (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)
 *
 * It stays inside [0, 1] and is sensible at p̂ = 0 or 1 (0 of 10 gives [0, 0.278]).
 * z defaults to the 95 % two-sided quantile. Throws a RangeError on impossible counts or trials = 0.
 */
export function wilsonInterval(successes: number, trials: number, z = Z_95): Interval {
  checkCounts(successes, trials);
  const p = successes / trials;
  const z2n = (z * z) / trials;
  const centre = p + z2n / 2;
  const half = z * Math.sqrt((p * (1 - p)) / trials + z2n / (4 * trials));
  const scale = 1 + z2n;
  // The bounds are exactly 0 and 1 at p̂ = 0 and 1; clamp the rounding that would put them outside.
  return {
    low: successes === 0 ? 0 : Math.max(0, (centre - half) / scale),
    high: successes === trials ? 1 : Math.min(1, (centre + half) / scale),
  };
}

/**
 * Exact (binomial) McNemar test for paired classifications, two-sided (McNemar 1947; the exact form
 * recommended by Fagerland, Lydersen & Laake, BMC Med Res Methodol 2013). Only discordant pairs count:
 * `fixed` = images the run gets right and the baseline wrong, `broken` = the reverse. Under the null
 * hypothesis that both are equally likely, fixed ~ Binomial(n = fixed + broken, ½), and
 *
 *   p = min(1, 2 · Σ_{i=0}^{min(fixed, broken)} C(n, i) / 2ⁿ)
 *
 * which is also the two-sided sign test. Returns 1 when there are no discordant pairs. Summed in log
 * space, so it holds for any n (2ⁿ overflows a double beyond n = 1023). Throws a RangeError unless
 * both counts are whole and ≥ 0.
 */
export function exactMcNemarP(fixed: number, broken: number): number {
  for (const [name, value] of [
    ['fixed', fixed],
    ['broken', broken],
  ] as const) {
    if (!Number.isInteger(value) || value < 0)
      throw new RangeError(`${name} must be a whole number ≥ 0, not ${value}`);
  }
  const n = fixed + broken;
  const k = Math.min(fixed, broken);
  // From k ≥ (n − 1)/2 on, the lower tail holds at least half the mass: p is exactly 1.
  if (2 * k + 1 >= n) return 1;
  // log C(n, i) for i = 0..k, by C(n, i) = C(n, i − 1) · (n − i + 1) / i; the last term is the largest
  // (k < n/2), so the sum is scaled by it before exponentiating.
  const logTerms = [0];
  for (let i = 1; i <= k; i++) logTerms.push(logTerms[i - 1] + Math.log((n - i + 1) / i));
  const largest = logTerms[k];
  const scaledSum = logTerms.reduce((sum, t) => sum + Math.exp(t - largest), 0);
  return Math.min(1, 2 * Math.exp(largest + Math.log(scaledSum) - n * Math.LN2));
}

/**
 * Expected calibration error (Naeini, Cooper & Hauskrecht, AAAI 2015; Guo et al., ICML 2017):
 * predictions are grouped by their confidence (the top probability) into `bins` equal-width bins
 * B_m = ((m − 1)/M, m/M] (a confidence of exactly 0 joins the first), and
 *
 *   ECE = Σ_m |B_m| / n · |acc(B_m) − conf(B_m)|
 *
 * with acc the fraction correct and conf the mean confidence in the bin. In [0, 1]; 0 is perfectly
 * calibrated. Throws a RangeError when the arrays differ in length or are empty, a confidence is
 * outside [0, 1], or bins is not a whole number ≥ 1.
 */
export function expectedCalibrationError(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  bins = ECE_BINS,
): number {
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`bins must be a whole number ≥ 1, not ${bins}`);
  const n = confidences.length;
  if (correct.length !== n) throw new RangeError(`${n} confidences but ${correct.length} correctness flags`);
  if (n === 0) throw new RangeError('the calibration error of no predictions is undefined');
  const count = new Array<number>(bins).fill(0);
  const confidenceSum = new Array<number>(bins).fill(0);
  const correctSum = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const c = confidences[i];
    if (!(c >= 0 && c <= 1)) throw new RangeError(`confidence ${i} is ${c}, outside [0, 1]`);
    const bin = Math.max(0, Math.ceil(c * bins) - 1);
    count[bin]++;
    confidenceSum[bin] += c;
    if (correct[i]) correctSum[bin]++;
  }
  let ece = 0;
  for (let m = 0; m < bins; m++) {
    if (count[m] > 0) ece += Math.abs(correctSum[m] - confidenceSum[m]) / n;
  }
  return ece;
}

/** A p-value as reports print it: three decimals, or one significant digit in scientific notation below 0.001. */
export function formatPValue(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

/** The middle value (the mean of the two middle values for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One labelled image as a run and its baseline predicted it. */
export interface PairedPrediction {
  /** The true class (ordinal within the class set). */
  truth: number;
  /** The run's predicted class and its probability. */
  predicted: number;
  confidence: number;
  /** The baseline's (zero-shot's) predicted class and its probability on the same image. */
  baselinePredicted: number;
  baselineConfidence: number;
}

/** How one set of predictions scores against the labels. */
export interface Scorecard {
  correct: number;
  accuracy: number;
  /** 95 % Wilson interval of the accuracy. */
  accuracyCi: Interval;
  /** Expected calibration error over ECE_BINS bins (or the bins asked for). */
  ece: number;
}

/** A run against its baseline on the same labelled images. */
export interface PairedComparison {
  /** Labelled images compared. */
  n: number;
  run: Scorecard;
  baseline: Scorecard;
  /** Right in the run, wrong in the baseline. */
  fixed: number;
  /** Wrong in the run, right in the baseline. */
  broken: number;
  /** Two-sided exact McNemar p-value of fixed against broken. */
  mcnemarP: number;
  /** The bin count the calibration errors used. */
  eceBins: number;
}

/**
 * Scores a run and its baseline on the same labelled images and counts what the run fixed and broke.
 * Throws a RangeError when there are no images or a confidence is outside [0, 1].
 */
export function comparePaired(images: readonly PairedPrediction[], bins = ECE_BINS): PairedComparison {
  if (images.length === 0) throw new RangeError('no labelled images to compare');
  const runCorrect = images.map((im) => im.predicted === im.truth);
  const baselineCorrect = images.map((im) => im.baselinePredicted === im.truth);
  let fixed = 0;
  let broken = 0;
  for (let i = 0; i < images.length; i++) {
    if (runCorrect[i] && !baselineCorrect[i]) fixed++;
    if (!runCorrect[i] && baselineCorrect[i]) broken++;
  }
  const scorecard = (confidences: number[], correct: boolean[]): Scorecard => {
    const k = correct.filter(Boolean).length;
    return {
      correct: k,
      accuracy: accuracy(k, correct.length),
      accuracyCi: wilsonInterval(k, correct.length),
      ece: expectedCalibrationError(confidences, correct, bins),
    };
  };
  return {
    n: images.length,
    run: scorecard(
      images.map((im) => im.confidence),
      runCorrect,
    ),
    baseline: scorecard(
      images.map((im) => im.baselineConfidence),
      baselineCorrect,
    ),
    fixed,
    broken,
    mcnemarP: exactMcNemarP(fixed, broken),
    eceBins: bins,
  };
}

function checkCounts(successes: number, trials: number): void {
  if (!Number.isInteger(trials) || trials < 1)
    throw new RangeError(`the number of trials must be a whole number ≥ 1, not ${trials}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > trials)
    throw new RangeError(`successes must be a whole number from 0 to ${trials}, not ${successes}`);
}
