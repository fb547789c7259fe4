import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  importLabels,
  matchImportedLabels,
  type CollectionImage,
  type ImportedLabel,
} from '../../../src/backend/export/index.js';
import { makeTempDir, writePng } from './fixtures.js';

let work: string;

beforeAll(async () => {
  work = await makeTempDir('import');
});

afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

async function tree(name: string, files: string[]): Promise<string> {
  const root = path.join(work, name);
  for (const [i, file] of files.entries()) {
    if (file.endsWith('.png')) await writePng(path.join(root, file), i);
    else {
      await fs.mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await fs.writeFile(path.join(root, file), 'not an image');
    }
  }
  return root;
}

function sorted(labels: ImportedLabel[]) {
  return labels.map(({ relativePath, label }) => [relativePath, label]).sort();
}

describe('importLabels: class-folder trees', () => {
  it('takes the first-level folder as the label, including images in deeper folders', async () => {
    const root = await tree('plain', [
      'cat/1.png',
      'cat/sub/2.png',
      'dog/3.png',
      'loose.png',
      'notes.txt',
      '.hidden/4.png',
    ]);
    const result = await importLabels(root, 'imagefolder');
    expect(sorted(result.labels)).toEqual([
      ['cat/1.png', 'cat'],
      ['cat/sub/2.png', 'cat'],
      ['dog/3.png', 'dog'],
    ]);
    expect(result.warnings.join('\n')).toMatch(/1 entries that are not images/);
    expect(result.warnings.join('\n')).toMatch(/1 images that are not inside a class folder/);
  });

  it('reads a train/val/test tree with the class one level down', async () => {
    const root = await tree('splits', [
      'train/cat/1.png',
      'train/dog/2.png',
      'val/cat/3.png',
      'test/dog/4.png',
    ]);
    const result = await importLabels(root, 'imagefolder');
    expect(sorted(result.labels)).toEqual([
      ['test/dog/4.png', 'dog'],
      ['train/cat/1.png', 'cat'],
      ['train/dog/2.png', 'dog'],
      ['val/cat/3.png', 'cat'],
    ]);
  });

  it('does not take a class called "test" beside other classes for a split', async () => {
    const root = await tree('test-class', ['test/1.png', 'cat/2.png']);
    expect(sorted((await importLabels(root, 'imagefolder')).labels)).toEqual([
      ['cat/2.png', 'cat'],
      ['test/1.png', 'test'],
    ]);
  });

  it('adds content hashes with the hash function it is given', async () => {
    const root = await tree('hashed', ['cat/1.png']);
    const sha256 = async (file: string) =>
      createHash('sha256')
        .update(await fs.readFile(file))
        .digest('hex');
    const result = await importLabels(root, 'imagefolder', { hashFile: sha256 });
    expect(result.labels[0].contentHash).toBe(await sha256(path.join(root, 'cat/1.png')));
  });

  it('names the path when it is not a folder', async () => {
    await expect(importLabels(path.join(work, 'missing'), 'imagefolder')).rejects.toThrow(
      /missing: not a folder/,
    );
  });
});

describe('importLabels: CSV', () => {
  async function csv(name: string, rows: string[][]): Promise<string> {
    const file = path.join(work, name);
    await fs.writeFile(file, stringify(rows));
    return file;
  }

  it.each([
    ['path', 'label'],
    ['filepath', 'class'],
    ['file_name', 'label'],
    [' Image ', 'Class'],
  ])('finds the columns %s / %s', async (pathColumn, labelColumn) => {
    const file = await csv(`cols-${pathColumn.trim()}.csv`, [
      ['id', pathColumn, labelColumn],
      ['1', 'a\\cat 1.png', 'cat, tabby'],
      ['2', './b/dog.png', ' dog'],
      ['3', 'c.png', ''],
    ]);
    const result = await importLabels(file, 'csv');
    expect(sorted(result.labels)).toEqual([
      ['a/cat 1.png', 'cat, tabby'],
      ['b/dog.png', ' dog'],
    ]);
    expect(result.warnings).toEqual([`${file}: skipped 1 rows without a path or a label`]);
  });

  it('reads a UTF-8 BOM and quoted newlines', async () => {
    const file = path.join(work, 'bom.csv');
    await fs.writeFile(file, '\uFEFFpath,label\nx.png,"two\nlines"\n');
    expect(sorted((await importLabels(file, 'csv')).labels)).toEqual([['x.png', 'two\nlines']]);
  });

  it('says which columns it needs and which it found', async () => {
    const file = await csv('bad.csv', [
      ['name', 'kind'],
      ['x.png', 'cat'],
    ]);
    await expect(importLabels(file, 'csv')).rejects.toThrow(
      /bad\.csv: needs a path column .* found name, kind/,
    );
  });
});

describe('matchImportedLabels', () => {
  const images: CollectionImage<number>[] = [
    { id: 1, relativePath: 'cats/1.png', contentHash: 'h1' },
    { id: 2, relativePath: 'dogs/2.png', contentHash: 'h2' },
    { id: 3, relativePath: 'a/same.png', contentHash: 'h3' },
    { id: 4, relativePath: 'b/same.png', contentHash: 'h4' },
    { id: 5, relativePath: 'c/nohash.png' },
  ];

  it('matches by relative path first, then by file name, using the hash to choose', () => {
    const result = matchImportedLabels(
      [
        { relativePath: 'cats\\1.png', label: 'cat' },
        { relativePath: 'train/dog/2.png', label: 'dog' },
        { relativePath: 'x/same.png', label: 'b-one', contentHash: 'h4' },
        { relativePath: 'elsewhere/nohash.png', label: 'n', contentHash: 'zz' },
      ],
      images,
    );
    expect(result.matches.map((m) => [m.imageId, m.label, m.matchedBy])).toEqual([
      [1, 'cat', 'path'],
      [2, 'dog', 'name'],
      [4, 'b-one', 'hash'],
      [5, 'n', 'name'],
    ]);
    expect(result.unmatched).toEqual([]);
  });

  it('refuses to guess', () => {
    const result = matchImportedLabels(
      [
        { relativePath: 'y/same.png', label: 'ambiguous' },
        { relativePath: 'z/1.png', label: 'other content', contentHash: 'not-h1' },
        { relativePath: 'q/unknown.png', label: 'nothing' },
      ],
      images,
    );
    expect(result.matches).toEqual([]);
    expect(result.unmatched.map((u) => u.reason)).toEqual([
      '2 images have this file name; cannot tell which',
      'images with this file name have different content',
      'no image with this path or file name',
    ]);
  });

  it('keeps the first label when two land on one image, and warns about a conflict', () => {
    const result = matchImportedLabels(
      [
        { relativePath: 'cats/1.png', label: 'cat' },
        { relativePath: 'other/1.png', label: 'dog' },
      ],
      images,
    );
    expect(result.matches.map((m) => m.label)).toEqual(['cat']);
    expect(result.warnings[0]).toMatch(/1 images got conflicting labels/);
  });
});
