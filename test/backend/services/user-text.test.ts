// Kind 5 of issue 13: user text read strictly (cases 12-long-prompt-and-class-count and
// 20-classes-file-formats): the class formats people have are read, encodings are detected or
// refused with the byte offset, and prompts CLIP would cut or one-class sets are refused.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readClassFile } from '../../../src/backend/services/class-sets.js';
import { decodeText, sniffDelimiter, TextEncodingError } from '../../../src/backend/text-file.js';
import {
  classNameKey,
  ClassNameMatcher,
  classNameProblems,
  normaliseClassName,
} from '../../../src/shared/domain/class-names.js';
import { tempDir } from '../helpers.js';
import { CASES, DEMO_IMAGES, EMBEDDED_MODEL, metatpt } from '../../cases.js';

const CASE_12 = join(CASES, '12-long-prompt-and-class-count');
const CASE_20 = join(CASES, '20-classes-file-formats');
const names = async (file: string) => (await readClassFile(file)).entries.map((e) => e.name);

describe('the class-name rule', () => {
  it('normalises to NFC and trims; equal ignoring case is the same class', () => {
    const nfd = 'cafe\u0301';
    expect(normaliseClassName(` ${nfd} `)).toBe('café');
    expect(classNameKey('Café')).toBe(classNameKey(nfd));
    expect(classNameProblems(['café', nfd])).toMatchObject([{ index: 1, firstIndex: 0 }]);
    expect(classNameProblems(['heart', 'Heart'])[0].message).toMatch(/duplicate class "Heart"/);
    expect(classNameProblems(['a', ' '])[0].message).toBe('empty class name');
  });

  it('matches labels exactly first, then ignoring case when only one class fits', () => {
    const matcher = new ClassNameMatcher(['heart', 'star', 'café']);
    expect(['heart ', 'Heart', 'cafe\u0301', 'STAR', 'ring'].map((l) => matcher.match(l))).toEqual([
      0,
      0,
      2,
      1,
      undefined,
    ]);
    const ambiguous = new ClassNameMatcher(['Cat', 'cat']);
    expect(ambiguous.match('cat')).toBe(1);
    expect(ambiguous.match('CAT')).toBeUndefined();
  });
});

describe('text encodings', () => {
  it('reads UTF-8 with or without BOM and UTF-16 by its BOM', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\nc,d\n', 'utf16le')]);
    expect(decodeText(utf16, 'x.csv')).toEqual({ text: 'a,b\nc,d\n', encoding: 'utf-16le' });
    expect(decodeText(Buffer.from('\uFEFFcafé', 'utf8'), 'x').text).toBe('café');
  });

  it('refuses invalid UTF-8 naming the byte offset and line', () => {
    const error = (() => {
      try {
        decodeText(Buffer.from('star\ncaf\xe9\n', 'latin1'), 'latin1.txt');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TextEncodingError);
    expect((error as Error).message).toMatch(/^latin1\.txt: not valid UTF-8 at byte 8 \(line 2\)/);
  });

  it('sniffs the delimiter of a header line', () => {
    expect(sniffDelimiter('path;label\r\na;b')).toBe(';');
    expect(sniffDelimiter('"a;b",c\n')).toBe(',');
    expect(sniffDelimiter('name\tprompt\n')).toBe('\t');
  });
});

describe('classes files people have (case 20)', () => {
  it('reads data.yaml names, "index name" lines, BOM/CRLF and a ;-delimited CSV', async () => {
    expect(await names(join(CASE_20, 'data.yaml'))).toEqual(['heart', 'star']);
    expect(await names(join(CASE_20, 'numbered.txt'))).toEqual(['heart', 'star', 'hexagon']);
    expect(await names(join(CASE_20, 'bom_crlf.txt'))).toEqual(['heart', 'star', 'hexagon']);
    const csv = await readClassFile(join(CASE_20, 'semicolon.csv'));
    expect(csv.entries.map((e) => [e.name, e.prompt])).toEqual([
      ['heart', 'a photo of a heart'],
      ['star', 'a star'],
    ]);
  });

  it('splits one comma line into classes with a warning naming file and line', async () => {
    const list = await readClassFile(join(CASE_20, 'comma_line.txt'));
    expect(list.entries.map((e) => e.name)).toEqual(['heart', 'star', 'hexagon']);
    expect(list.warnings).toEqual([
      expect.stringMatching(/comma_line\.txt:1: one line with commas, read as 3 classes/),
    ]);
  });

  it('refuses Latin-1 and case duplicates naming the file and line', async () => {
    await expect(readClassFile(join(CASE_20, 'latin1.txt'))).rejects.toThrow(
      /latin1\.txt: not valid UTF-8 at byte 3 \(line 1\)/,
    );
    await expect(readClassFile(join(CASE_20, 'case_dup.txt'))).rejects.toThrow(
      /case_dup\.txt:3: duplicate class "Heart" \(first at .*case_dup\.txt:1\)/,
    );
    await expect(readClassFile(join(CASE_12, 'empty.txt'))).rejects.toThrow(
      /empty\.txt: no classes in the file/,
    );
  });
});

describe('prompts and class counts (case 12)', () => {
  const image = join(DEMO_IMAGES, 'shape-0055.webp');
  const classify = (...args: string[]) =>
    metatpt(['classify', '--model', EMBEDDED_MODEL, '--device', 'cpu', '--json', ...args, image]);

  it('refuses a template over 77 tokens, naming the prompt', async () => {
    const long = await classify('--classes', 'heart,star', '--template', `${'a '.repeat(100)}{}`);
    expect(long.code).toBe(1);
    expect(long.err).toMatch(/the prompt of class "heart" is 103 tokens, over CLIP's 77/);
    expect(long.out).toBe('');
    const file = await classify('--classes-file', join(CASE_12, 'classes_long.csv'));
    expect(file.err).toMatch(/the prompt of class "heart" is \d+ tokens/);
  });

  it('refuses a one-class set instead of "adapting" it to probability 1', async () => {
    const one = await classify(
      '--classes-file',
      join(CASE_12, 'one_class.txt'),
      '--method',
      'tpt',
      '--preset',
      'fast-cpu',
    );
    expect(one.code).toBe(1);
    expect(one.err).toMatch(/at least two classes \(got only "heart"\)/);
  });

  it('reads a Latin-1 classes file as an error, not as U+FFFD', async () => {
    const dir = tempDir('latin-');
    writeFileSync(join(dir, 'c.txt'), Buffer.from('caf\xe9\nstar\n', 'latin1'));
    const result = await classify('--classes-file', join(dir, 'c.txt'));
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/not valid UTF-8 at byte 3/);
  });
});
