// Timing helpers. Machines are shared and noisy, so benchmarks report medians over repeats, and the
// cases being compared run interleaved (a, b, a, b, ...) so that drift hits all of them alike.

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Milliseconds `work` takes, and what it returned. */
export async function timed<T>(work: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

export interface InterleaveOptions {
  /** Rounds; each case runs `block` timed times per round. */
  rounds: number;
  /**
   * Consecutive timed runs of a case per round. Above 1, each block starts with one untimed run:
   * onnxruntime's spinning worker threads of the session that ran before slow the first run after
   * a switch (see BENCHMARKS.md), and this measures each case in its steady state.
   */
  block?: number;
  /** Untimed rounds first (session warm-up, lazy allocations). */
  warmupRounds?: number;
}

/**
 * Runs the cases in rounds, each round in a rotated order so that no case always follows the same
 * one; returns each case's timed runs in milliseconds.
 */
export async function interleaved<K extends string>(
  cases: Record<K, () => Promise<unknown>>,
  { rounds, block = 1, warmupRounds = 1 }: InterleaveOptions,
): Promise<Record<K, number[]>> {
  const names = Object.keys(cases) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < warmupRounds + rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length];
      if (block > 1) await cases[name]();
      for (let b = 0; b < block; b++) {
        const { ms } = await timed(cases[name]);
        if (round >= warmupRounds) samples[name].push(ms);
      }
    }
  }
  return samples;
}

/** The largest |a[i] − b[i]|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** The largest and the mean |a[i] − b[i]|. */
export function absDiffStats(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`absDiffStats: lengths differ (${a.length} vs ${b.length})`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return { max: maxAbsDiff(a, b), mean: sum / a.length };
}
