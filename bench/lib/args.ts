// Command-line numbers for the benchmarks, with errors that name the option.

/** `value` as a positive integer, or `fallback` when the option was not given. */
export function positiveInt(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${option}: expected a positive integer, got "${value}"`);
  return n;
}

/** A comma-separated list of positive integers, e.g. "1,8,32". */
export function positiveInts(
  option: string,
  value: string | undefined,
  fallback: readonly number[],
): number[] {
  if (value === undefined) return [...fallback];
  return value.split(',').map((part) => positiveInt(option, part.trim(), 0));
}
