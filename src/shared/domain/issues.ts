// The one way a validation failure is told to the user: every problem, each as "where: what".
import type { z } from 'zod';

export interface IssueNames {
  /** How to name the value itself, when the problem is not in one of its fields (default "input"). */
  root?: string;
  /** How to name a field for the user, e.g. a CLI flag for a setting (default: the dotted path). */
  field?: (path: string) => string;
}

/**
 * "views: Too small: expected number to be >=1; variant: Invalid option: …": every issue of
 * `error`, in order, separated by "; " (one line, fit for a log or an exit message).
 */
export function describeIssues(
  error: z.ZodError,
  { root = 'input', field = (p) => p }: IssueNames = {},
): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${path ? field(path) : root}: ${issue.message}`;
    })
    .join('; ');
}
