// The one rule for class names and the labels that name them, used by classes files, the API,
// imports and the store's uniqueness: a name is kept in Unicode NFC with surrounding whitespace
// removed, and two names are the same class when they are equal ignoring case. A label matches a
// class exactly (after normalising) or, failing that, case-insensitively when only one class fits.

/** The stored form of a class name or label: NFC (macOS writes NFD file names), trimmed. */
export function normaliseClassName(name: string): string {
  return name.normalize('NFC').trim();
}

/** The key under which two names are the same class: normalised, then lower-cased. */
export function classNameKey(name: string): string {
  return normaliseClassName(name).toLowerCase();
}

/** A problem with a list of class names; `index` is the 0-based position of the offending entry. */
export interface ClassNameProblem {
  index: number;
  /** Position of the earlier entry it duplicates. */
  firstIndex?: number;
  message: string;
}

/**
 * What is wrong with a list of class names (already normalised or not): empty names, and names that
 * are the same class as an earlier one under classNameKey (equal ignoring case and Unicode form).
 * Empty when the list is fine.
 */
export function classNameProblems(names: readonly string[]): ClassNameProblem[] {
  const problems: ClassNameProblem[] = [];
  const seen = new Map<string, number>();
  names.forEach((raw, index) => {
    const name = normaliseClassName(raw);
    if (name === '') {
      problems.push({ index, message: 'empty class name' });
      return;
    }
    const key = classNameKey(name);
    const firstIndex = seen.get(key);
    if (firstIndex === undefined) seen.set(key, index);
    else problems.push({ index, firstIndex, message: `duplicate class "${name}"` });
  });
  return problems;
}

/**
 * Finds the class a label names. Built once per class set; `match` is O(1).
 * Exact (normalised) equality wins; otherwise a case-insensitive match, only if exactly one class has it.
 */
export class ClassNameMatcher {
  private readonly exact = new Map<string, number>();
  private readonly folded = new Map<string, number[]>();

  constructor(readonly names: readonly string[]) {
    names.forEach((name, index) => {
      const normal = normaliseClassName(name);
      if (!this.exact.has(normal)) this.exact.set(normal, index);
      const key = classNameKey(normal);
      this.folded.set(key, [...(this.folded.get(key) ?? []), index]);
    });
  }

  /** Index of the class `label` names, or undefined (no class, or several differing only by case). */
  match(label: string): number | undefined {
    const normal = normaliseClassName(label);
    const exact = this.exact.get(normal);
    if (exact !== undefined) return exact;
    const candidates = this.folded.get(classNameKey(normal)) ?? [];
    return candidates.length === 1 ? candidates[0] : undefined;
  }
}
