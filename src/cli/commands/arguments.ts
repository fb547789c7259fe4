// Small helpers for parsing sub-command arguments with node:util parseArgs, shared by commands.

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export function requireOption(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function parseId(value: string | undefined, name: string): number {
  const id = Number(requireOption(value, name));
  if (!Number.isInteger(id) || id <= 0)
    throw new UsageError(`--${name} must be a positive whole number, not "${value}"`);
  return id;
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  const found = allowed.find((a) => a === value);
  if (!found) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, not "${value}"`);
  return found;
}

/** Runs a command body, turning command-line mistakes into the usage text and exit code 2. */
export async function withUsage(usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const isUsage =
      error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    if (!isUsage) throw error;
    process.stderr.write(`metatpt: ${(error as Error).message}\n${usage}\n`);
    return 2;
  }
}
