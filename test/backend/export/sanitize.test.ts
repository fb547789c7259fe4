import { describe, expect, it } from 'vitest';
import {
  assignClassFolders,
  sanitizeClassFolderName,
  sanitizeFileName,
} from '../../../src/backend/export/index.js';
import { MAX_SEGMENT_BYTES } from '../../../src/backend/export/sanitize.js';

/** What makes a single path segment unusable on Windows, macOS or Linux. */
function problemsWith(segment: string): string[] {
  const problems: string[] = [];
  if (segment === '' || segment === '.' || segment === '..') problems.push('empty or dot');
  // eslint-disable-next-line no-control-regex -- control characters are what is being checked for
  if (/[<>:"/\\|?*\u0000-\u001f]/u.test(segment)) problems.push('forbidden character');
  if (/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/iu.test(segment)) problems.push('windows device name');
  if (/[. ]$/u.test(segment)) problems.push('trailing dot or space');
  if (segment.startsWith('.')) problems.push('hidden');
  if (Buffer.byteLength(segment) > 255) problems.push('too long');
  return problems;
}

const HOSTILE = [
  '../x',
  'a/b',
  'a\\b',
  'CON',
  'con',
  'nul.txt',
  'LPT9',
  'com1.jpg',
  'x.',
  'x. . ',
  ' ',
  '',
  '..',
  '.',
  '.hidden',
  'tab\there',
  'ctl\u0001x',
  'a<b>c:"d|e?f*',
  'Cat',
  'cat',
  '🐱 cat',
  '👩‍👩‍👧‍👦'.repeat(40),
  'x'.repeat(300),
];

describe('sanitizeClassFolderName', () => {
  it.each(HOSTILE)('makes %j a valid folder name on every platform', (name) => {
    const folder = sanitizeClassFolderName(name);
    expect(problemsWith(folder)).toEqual([]);
    expect(Buffer.byteLength(folder)).toBeLessThanOrEqual(MAX_SEGMENT_BYTES);
  });

  it('keeps ordinary names, including non-ASCII, unchanged', () => {
    for (const name of ['cat', 'Golden retriever', 'été', '猫', 'class_1-b']) {
      expect(sanitizeClassFolderName(name)).toBe(name);
    }
  });

  it('maps the cases the brief names to predictable folders', () => {
    expect(sanitizeClassFolderName('a/b')).toBe('a_b');
    expect(sanitizeClassFolderName('CON')).toBe('_CON');
    expect(sanitizeClassFolderName('nul.txt')).toBe('_nul.txt');
    expect(sanitizeClassFolderName('x.')).toBe('x');
    expect(sanitizeClassFolderName(' ')).toBe('_');
  });

  it('does not cut an emoji sequence in half when shortening', () => {
    const family = '👩‍👩‍👧‍👦';
    const folder = sanitizeClassFolderName(family.repeat(40));
    expect(folder.length % family.length).toBe(0);
  });
});

describe('assignClassFolders', () => {
  it('gives every class its own folder, ignoring case, with deterministic suffixes', () => {
    const folders = assignClassFolders(['cat', 'Cat', 'CAT', 'a/b', 'a_b', ' ', '']);
    const values = [...folders.values()];
    expect(new Set(values.map((v) => v.toLowerCase())).size).toBe(values.length);
    expect(folders.get('CAT')).toBe('CAT');
    expect(folders.get('Cat')).toBe('Cat__2');
    expect(folders.get('cat')).toBe('cat__3');
    expect(folders.get('a/b')).toBe('a_b');
    expect(folders.get('a_b')).toBe('a_b__2');
  });

  it('does not depend on the order classes come in', () => {
    const names = ['x', 'X', 'y/', 'y_', 'CON', '_CON'];
    expect([...assignClassFolders(names)].sort()).toEqual(
      [...assignClassFolders([...names].reverse())].sort(),
    );
  });

  it('avoids reserved names', () => {
    const folders = assignClassFolders(['_unlabeled', 'Manifest.json'], ['_unlabeled', 'manifest.json']);
    expect(folders.get('_unlabeled')).toBe('_unlabeled__2');
    expect(folders.get('Manifest.json')).toBe('Manifest.json__2');
  });

  it('keeps suffixed long names within the length limit and distinct', () => {
    const long = 'x'.repeat(300);
    const folders = assignClassFolders([long, long + 'y', long.toUpperCase()]);
    const values = [...folders.values()];
    expect(new Set(values.map((v) => v.toLowerCase())).size).toBe(3);
    for (const v of values) expect(Buffer.byteLength(v)).toBeLessThanOrEqual(MAX_SEGMENT_BYTES);
  });
});

describe('sanitizeFileName', () => {
  it('keeps the extension while fixing the stem', () => {
    expect(sanitizeFileName('CON.jpg')).toBe('_CON.jpg');
    expect(sanitizeFileName('a:b.png')).toBe('a_b.png');
    const long = sanitizeFileName(`${'y'.repeat(400)}.jpeg`);
    expect(long.endsWith('.jpeg')).toBe(true);
    expect(problemsWith(long)).toEqual([]);
  });
});
