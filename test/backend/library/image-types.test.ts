// Kind 1 of issue 13: one list of what counts as an image, and every skipped entry counted and named.
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkImageFiles } from '../../../src/backend/library/files.js';
import { scanCollection } from '../../../src/backend/library/indexer.js';
import { createThumbnailCache } from '../../../src/backend/library/thumbnails.js';
import {
  IMAGE_EXTENSIONS,
  explainDecodeFailure,
  imageTypeOf,
  type SkippedEntry,
} from '../../../src/shared/domain/image-types.js';
import { tempDir, tempStore } from '../helpers.js';
import { CASES, EMBEDDED_MODEL, DEMO_CLASSES, metatpt } from '../../cases.js';

const CASE_03 = join(CASES, '03-extensions');

async function walk(root: string, options: Parameters<typeof walkImageFiles>[1] = {}) {
  const found: string[] = [];
  const skipped: SkippedEntry[] = [];
  for await (const file of walkImageFiles(root, { ...options, onSkip: (e) => skipped.push(e) }))
    found.push(file.relPath);
  return { found: found.sort(), skipped: skipped.sort((a, b) => a.path.localeCompare(b.path)) };
}

describe('the image-type list', () => {
  it('knows the JPEG spellings, HEIC and BMP, case-insensitively', () => {
    for (const ext of [
      '.jpg',
      '.jpeg',
      '.jpe',
      '.jfif',
      '.png',
      '.webp',
      '.avif',
      '.heic',
      '.bmp',
      '.tif',
      '.gif',
    ])
      expect(IMAGE_EXTENSIONS).toContain(ext);
    expect(imageTypeOf('IMG_0003.Png')?.format).toBe('PNG');
    expect(imageTypeOf('a/b/download.JFIF')?.format).toBe('JPEG');
    expect(imageTypeOf('notes.txt')).toBeUndefined();
    expect(imageTypeOf('.jpg')).toBeUndefined();
  });

  it('turns a multi-line HEIC decoder failure into one line saying what to do', () => {
    const raw = 'x.heic: bad seek to 5814\nx.heic: bad seek to 5792\nheif: Error while loading plugin: HEVC';
    const line = explainDecodeFailure('x.heic', raw);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/HEIC.*convert/);
    expect(explainDecodeFailure('x.png', 'boom')).toBe('boom');
  });
});

describe('walking a folder (case 03-extensions)', () => {
  it('takes every image type and names each skipped entry with its reason', async () => {
    const root = tempDir('walk-');
    cpSync(CASE_03, join(root, 'photos'), { recursive: true });
    writeFileSync(join(root, 'photos', 'notes.txt'), 'x');
    writeFileSync(join(root, 'photos', '._IMG_0001.JPG'), 'AppleDouble');
    const outside = tempDir('outside-');
    writeFileSync(join(outside, 'far.png'), 'x');
    symlinkSync(join(outside, 'far.png'), join(root, 'photos', 'link-out.png'));
    symlinkSync(join(root, 'nowhere.png'), join(root, 'photos', 'dangling.png'));
    const { found, skipped } = await walk(join(root, 'photos'));
    expect(found).toEqual([
      'IMG_0001.JPG',
      'IMG_0002.JPEG',
      'IMG_0003.Png',
      'download.jfif',
      'iphone.heic',
      'photo.avif',
      'photo.bmp',
      'photo.jpe',
      'png_named.jpg',
      'webp_named.png',
    ]);
    expect(skipped.map((e) => [e.path, e.reason])).toEqual([
      ['._IMG_0001.JPG', 'hidden'],
      ['dangling.png', 'broken-link'],
      ['link-out.png', 'link-outside-folder'],
      ['notes.txt', 'not-an-image'],
    ]);
    // Following links out of the folder is the user's choice.
    expect((await walk(join(root, 'photos'), { followLinksOutside: true })).found).toContain('link-out.png');
  });

  it("never enters the app's own export, thumbnail or model folders", async () => {
    const root = tempDir('own-');
    cpSync(join(CASE_03, 'IMG_0001.JPG'), join(root, 'a.jpg'));
    mkdirSync(join(root, 'export'));
    cpSync(join(CASE_03, 'IMG_0001.JPG'), join(root, 'export', 'b.jpg'));
    writeFileSync(join(root, 'export', 'manifest.json'), JSON.stringify({ kind: 'metatpt-export' }));
    const store = tempStore();
    const thumbs = createThumbnailCache({ store, cacheDir: join(root, 'thumbs') });
    const collection = store.collections.create(root, 'own');
    await scanCollection(store, collection.id);
    const image = store.images.findByPath(collection.id, 'a.jpg')!;
    await thumbs.thumbnailOf(image.id);
    const summary = await scanCollection(store, collection.id);
    expect(summary).toMatchObject({ added: 0, unchanged: 1 });
    expect(summary.skipped.map((e) => [e.path, e.reason])).toEqual(
      expect.arrayContaining([
        ['export', 'app-folder'],
        ['thumbs', 'app-folder'],
      ]),
    );
  });

  it('indexes HEIC and BMP as images with one clear error each, and counts what it skipped', async () => {
    const store = tempStore();
    const root = tempDir('idx-');
    cpSync(CASE_03, root, { recursive: true });
    writeFileSync(join(root, 'readme.md'), 'x');
    const collection = store.collections.create(root, '03');
    const summary = await scanCollection(store, collection.id);
    expect(summary).toMatchObject({ added: 10, errors: 2, skippedCount: 1 });
    expect(summary.skipped).toEqual([{ path: 'readme.md', reason: 'not-an-image' }]);
    const failed = Object.fromEntries(summary.failed.map((f) => [f.path, f.error]));
    expect(Object.keys(failed).sort()).toEqual(['iphone.heic', 'photo.bmp']);
    expect(failed['iphone.heic']).toMatch(/^HEIC\/HEIF: .*HEVC.*convert/);
    expect(failed['iphone.heic']).not.toContain('\n');
    expect(failed['photo.bmp']).toMatch(/^BMP: /);
    expect(store.images.countByStatus(collection.id)).toEqual({ ok: 8, error: 2, missing: 0 });
  });

  it('classify takes the same images as index, names the skipped and explains the failures', async () => {
    const root = tempDir('cls-');
    cpSync(CASE_03, root, { recursive: true });
    writeFileSync(join(root, 'readme.md'), 'x');
    const { code, out, err } = await metatpt([
      ...['classify', '--model', EMBEDDED_MODEL, '--classes-file', DEMO_CLASSES, '--device', 'cpu', '--json'],
      root,
    ]);
    expect(code, err).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    const byName = (name: string) => lines.find((l) => l.path.endsWith(`/${name}`))!;
    expect(lines.filter((l) => l.label).length).toBe(8);
    expect(byName('readme.md')).toMatchObject({ skipped: 'not-an-image' });
    expect(byName('iphone.heic').error).toMatch(/^HEIC\/HEIF: .*convert/);
    expect(byName('photo.bmp').error).toMatch(/^BMP: /);
    expect(err).toMatch(/2 of 10 images could not be classified/);
  });
});
