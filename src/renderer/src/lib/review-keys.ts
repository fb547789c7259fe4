// Review keyboard: the keys experts know from Prodigy and Label Studio. Digits
// choose a class by their physical key (so Shift+1 is class 11 on every layout, and the numpad works);
// the other commands are a remappable table of key names.

export type ReviewCommand =
  | { kind: 'assign'; classOrdinal: number }
  | { kind: 'accept' | 'reject' | 'skip' | 'previous' | 'next' | 'undo' | 'redo' | 'help' };

type NamedCommand = Exclude<ReviewCommand['kind'], 'assign' | 'undo' | 'redo'>;

/** Key names (KeyboardEvent.key, lower case for letters) per command. */
export type ReviewKeymap = Record<NamedCommand, readonly string[]>;

export const defaultReviewKeymap: ReviewKeymap = {
  accept: ['Enter', 'a'],
  reject: ['x'],
  skip: [' '],
  previous: ['ArrowLeft'],
  next: ['ArrowRight', 'd'],
  help: ['?'],
};

/** The part of a KeyboardEvent the mapping reads. */
export interface KeyPress {
  key: string;
  code: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

/** The key that chooses class `ordinal` (0-based): 1–9, 0, then Shift+1–9, Shift+0; null beyond 20. */
export function classKeyLabel(ordinal: number): string | null {
  if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= 20) return null;
  const digit = String((ordinal % 10) + 1).slice(-1);
  return ordinal >= 10 ? `⇧${digit}` : digit;
}

function digitOf(code: string): number | null {
  const match = /^(?:Digit|Numpad)(\d)$/.exec(code);
  return match ? Number(match[1]) : null;
}

/** The command a key press means, or null when the key is not a review key (or the class does not exist). */
export function reviewCommandFor(
  press: KeyPress,
  classCount: number,
  keymap: ReviewKeymap = defaultReviewKeymap,
): ReviewCommand | null {
  if (press.altKey) return null;
  const key = press.key.length === 1 ? press.key.toLowerCase() : press.key;
  if (press.ctrlKey || press.metaKey) {
    if (key !== 'z') return null;
    return { kind: press.shiftKey ? 'redo' : 'undo' };
  }
  const digit = digitOf(press.code);
  if (digit !== null) {
    const classOrdinal = (digit === 0 ? 9 : digit - 1) + (press.shiftKey ? 10 : 0);
    return classOrdinal < classCount ? { kind: 'assign', classOrdinal } : null;
  }
  for (const [kind, keys] of Object.entries(keymap) as [NamedCommand, readonly string[]][]) {
    if (keys.includes(key)) return { kind };
  }
  return null;
}
