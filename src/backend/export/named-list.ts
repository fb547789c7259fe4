// Warnings name what they are about, but a long list is cut: --json and the API carry the full lists.

/** Values named in a warning line. */
export const NAMED_IN_WARNING = 10;

/** The first NAMED_IN_WARNING values, JSON-quoted and comma-separated, then how many more there are. */
export function quoted(values: readonly string[]): string {
  return (
    values
      .slice(0, NAMED_IN_WARNING)
      .map((v) => JSON.stringify(v))
      .join(', ') + (values.length > NAMED_IN_WARNING ? `, … (${values.length - NAMED_IN_WARNING} more)` : '')
  );
}
