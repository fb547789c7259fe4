// Turning class names and file names into path segments that are valid on Windows, macOS and Linux.

/** Windows refuses these as a file or folder name, with or without an extension. */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is being removed
const FORBIDDEN_CHARS = /[<>:"/\\|?*\u0000-\u001f\u007f]/g;
/** Most file systems allow 255 bytes per name; leave room for collision suffixes and extensions. */
export const MAX_SEGMENT_BYTES = 120;
const REPLACEMENT = '_';

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character (or an emoji sequence). */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8Length(text) <= maxBytes) return text;
  let kept = '';
  for (const { segment } of graphemes.segment(text)) {
    if (utf8Length(kept + segment) > maxBytes) break;
    kept += segment;
  }
  return kept;
}

function stripTrailingDotsAndSpaces(text: string): string {
  return text.replace(/[. ]+$/u, '');
}

/**
 * One path segment from arbitrary text: no separators, `..`, control or reserved characters,
 * no Windows device names, no trailing dots or spaces (Windows drops them), no leading dot
 * (hidden on Unix), never empty, at most `maxBytes` of UTF-8.
 */
function sanitizeSegment(text: string, maxBytes: number): string {
  let name = text.normalize('NFC').replace(FORBIDDEN_CHARS, REPLACEMENT).trim();
  name = stripTrailingDotsAndSpaces(name).replace(/^\./u, REPLACEMENT);
  const stem = name.split('.')[0].trim();
  if (WINDOWS_RESERVED.test(stem)) name = REPLACEMENT + name;
  name = stripTrailingDotsAndSpaces(truncateUtf8(name, maxBytes));
  return name === '' ? REPLACEMENT : name;
}

/** A folder name for a class, valid on every platform. Different classes may map to the same name: see assignClassFolders. */
export function sanitizeClassFolderName(className: string): string {
  return sanitizeSegment(className, MAX_SEGMENT_BYTES);
}

/** Splits `x.tar.gz` style names at the last dot: `{ stem: 'x.tar', ext: '.gz' }`. */
export function splitExtension(fileName: string): { stem: string; ext: string } {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0) return { stem: fileName, ext: '' };
  return { stem: fileName.slice(0, dot), ext: fileName.slice(dot) };
}

/** A file name valid on every platform, keeping the extension when the stem has to be shortened. */
export function sanitizeFileName(fileName: string): string {
  const { stem, ext } = splitExtension(fileName.normalize('NFC'));
  const safeExt = ext.replace(FORBIDDEN_CHARS, REPLACEMENT).slice(0, 16);
  const safeStem = sanitizeSegment(stem, MAX_SEGMENT_BYTES - utf8Length(safeExt));
  return safeStem + safeExt;
}

/** Case-insensitive key: two names that differ only in case are one folder on Windows and macOS. */
export function folderKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** `name__n` (before the extension), shortened so the result still fits in a segment. */
export function withCollisionSuffix(name: string, n: number, keepExtension: boolean): string {
  const { stem, ext } = keepExtension ? splitExtension(name) : { stem: name, ext: '' };
  const suffix = `__${n}`;
  const room = MAX_SEGMENT_BYTES - utf8Length(suffix) - utf8Length(ext);
  return stripTrailingDotsAndSpaces(truncateUtf8(stem, room)) + suffix + ext;
}

/**
 * Picks a unique folder per class. Classes are taken in code-point order of their names, so the
 * result does not depend on input order; a later class whose sanitised name is already taken
 * (ignoring case) or reserved gets `__2`, `__3`, …
 */
export function assignClassFolders(
  classNames: Iterable<string>,
  reserved: Iterable<string> = [],
): Map<string, string> {
  const taken = new Set([...reserved].map(folderKey));
  const folders = new Map<string, string>();
  const sorted = [...new Set(classNames)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const className of sorted) {
    const base = sanitizeClassFolderName(className);
    let folder = base;
    for (let n = 2; taken.has(folderKey(folder)); n++) folder = withCollisionSuffix(base, n, false);
    taken.add(folderKey(folder));
    folders.set(className, folder);
  }
  return folders;
}
