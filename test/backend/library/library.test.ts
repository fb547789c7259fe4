import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanCollection } from '../../../src/backend/library/indexer.js';
import { resolveCollectionFile, PathRefusedError } from '../../../src/backend/library/paths.js';
import { createThumbnailCache } from '../../../src/backend/library/thumbnails.js';
import { makeImageFolder, imageRelPath } from '../../../scripts/make-image-folder.js';
import type { Store } from '../../../src/backend/store/index.js';
import { tempDir, tempStore } from '../helpers.js';
import { SCAN_LISTED, type ScanProgress, type ScanSummary } from '../../../src/shared/domain/library.js';

/** A folder of `count` generated PNGs (10 per subfolder) registered as a collection. */
async function imageCollection(store: Store, count: number) {
  const root = tempDir('metatpt-images-');
  await makeImageFolder({ out: root, count, size: 16, perFolder: 10 });
  const collection = store.collections.create(root, 'generated');
  return { root, collectionId: collection.id, path: (i: number) => join(root, imageRelPath(i, 10, 'png')) };
}

const paths = (store: Store, collectionId: number) =>
  store.grid.query({ collectionId, sort: { key: 'path' }, limit: 1000 }).items.map((item) => item.relPath);

describe('scanning a collection', () => {
  it('indexes image files recursively, skips others, records sizes and survives symlink loops', async () => {
    const store = tempStore();
    const { root, collectionId } = await imageCollection(store, 12);
    writeFileSync(join(root, 'notes.txt'), 'not an image');
    writeFileSync(join(root, '.hidden.png'), 'hidden');
    symlinkSync(root, join(root, 'd0000', 'loop')); // a link back to the root
    const outside = tempDir('metatpt-outside-');
    await makeImageFolder({ out: outside, count: 1, size: 16 });
    symlinkSync(outside, join(root, 'escape')); // a link out of the collection

    const progress: ScanProgress[] = [];
    const summary = await scanCollection(store, collectionId, {
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 0,
    });
    expect(summary).toMatchObject({ added: 12, changed: 0, removed: 0, moved: 0, errors: 0 });
    expect(paths(store, collectionId)).toEqual(
      Array.from({ length: 12 }, (_, i) => imageRelPath(i, 10, 'png')),
    );
    const first = store.images.findByPath(collectionId, imageRelPath(0, 10, 'png'))!;
    expect(first).toMatchObject({ width: 16, height: 16, status: 'ok' });
    expect(first.contentHash).toMatch(/^[0-9a-f]{40}$/);
    expect(progress.at(-1)).toMatchObject({ seen: 12, added: 12 });
  });

  it('follows a symlinked folder inside the root once', async () => {
    const store = tempStore();
    const { root, collectionId } = await imageCollection(store, 3);
    mkdirSync(join(root, 'linked'));
    symlinkSync(join(root, 'd0000'), join(root, 'linked', 'alias'));
    const summary = await scanCollection(store, collectionId);
    // The real folder and its alias hold the same three files; they are indexed under one path each.
    expect(summary.added).toBe(3);
  });

  it('records corrupt files as per-image errors and goes on', async () => {
    const store = tempStore();
    const { root, collectionId } = await imageCollection(store, 2);
    writeFileSync(join(root, 'broken.jpg'), Buffer.from('this is not a jpeg'));
    const summary = await scanCollection(store, collectionId);
    expect(summary).toMatchObject({ added: 3, errors: 1, unreadable: 1 });
    const broken = store.images.findByPath(collectionId, 'broken.jpg')!;
    expect(broken.status).toBe('error');
    expect(broken.error).toMatch(/unsupported image format|Input/i);
    expect(summary.failed).toEqual([{ path: 'broken.jpg', error: broken.error }]);
    expect(store.images.countByStatus(collectionId)).toEqual({ ok: 2, error: 1, missing: 0 });

    // The unchanged broken file is not read again, yet the next scan still counts and names it.
    const again = await scanCollection(store, collectionId);
    expect(again).toMatchObject({ added: 0, unchanged: 3, errors: 0, unreadable: 1 });
    expect(again.failed).toEqual([{ path: 'broken.jpg', error: broken.error }]);
    expect(store.collections.require(collectionId).lastScan).toMatchObject({
      unreadable: 1,
      failed: again.failed,
    });
  });

  it('reads a summary stored before summaries named paths: no paths, its failures as the unreadable', () => {
    const store = tempStore();
    const { id } = store.collections.create('/data/older', 'older');
    const older = {
      ...{ collectionId: id, added: 2, changed: 0, unchanged: 0, errors: 1, removed: 0, moved: 0 },
      ...{ durationMs: 5, skippedCount: 0, skipped: [], failed: [{ path: 'a.jpg', error: 'bad' }] },
    };
    store.collections.markScanned(id, 1, older as unknown as ScanSummary);
    expect(store.collections.require(id).lastScan).toEqual({
      ...older,
      ...{ addedPaths: [], changedPaths: [], movedPaths: [], removedPaths: [], unreadable: 1 },
    });
  });

  it('names at most SCAN_LISTED paths of a kind, in the summary and stored, and all when asked', async () => {
    const store = tempStore();
    const { collectionId } = await imageCollection(store, SCAN_LISTED + 2);
    const all = Array.from({ length: SCAN_LISTED + 2 }, (_, i) => imageRelPath(i, 10, 'png'));
    const capped = await scanCollection(store, collectionId);
    expect(capped.added).toBe(SCAN_LISTED + 2);
    expect(capped.addedPaths).toEqual(all.slice(0, SCAN_LISTED));
    expect(store.collections.require(collectionId).lastScan?.addedPaths).toEqual(capped.addedPaths);

    const other = tempStore();
    const listed = await imageCollection(other, SCAN_LISTED + 2);
    const named = await scanCollection(other, listed.collectionId, { listLimit: Infinity });
    expect(named.addedPaths).toEqual(all);
    // What is kept with the collection stays capped.
    expect(other.collections.require(listed.collectionId).lastScan?.addedPaths).toHaveLength(SCAN_LISTED);
  });

  it('rescans incrementally: new, changed, removed and moved files, keeping a moved file’s labels', async () => {
    const store = tempStore();
    const { root, collectionId, path } = await imageCollection(store, 5);
    await scanCollection(store, collectionId);
    const classSet = store.classSets.create({
      name: 'c',
      template: '{}',
      contextInit: 'a',
      classes: [{ name: 'x' }],
    });
    const movedImage = store.images.findByPath(collectionId, imageRelPath(1, 10, 'png'))!;
    store.labels.apply({ collectionId, classSetId: classSet.id }, 'set', [
      {
        imageId: movedImage.id,
        after: { decision: 'label', classOrdinal: 0, rejectedOrdinal: null, source: 'human', runId: null },
      },
    ]);

    const unchanged = await scanCollection(store, collectionId);
    expect(unchanged).toMatchObject({ added: 0, changed: 0, unchanged: 5, removed: 0, moved: 0 });

    await makeImageFolder({ out: join(root, 'new'), count: 3, size: 20 }); // different bytes from the others
    const removedBytes = readFileSync(path(2));
    renameSync(path(1), join(root, 'moved.png'));
    rmSync(path(2));
    writeFileSync(path(3), Buffer.alloc(10, 1)); // new bytes (not an image any more)
    copyFileSync(path(4), join(root, 'copy-of-4.png')); // a copy, not a move: the original stays

    const summary = await scanCollection(store, collectionId);
    expect(summary).toMatchObject({ added: 4, changed: 1, unchanged: 2, removed: 1, moved: 1 });
    // Which files, by name: the moved one once, from its old path to its new one.
    expect(summary).toMatchObject({
      addedPaths: ['copy-of-4.png', ...[0, 1, 2].map((i) => `new/${imageRelPath(i, 1000, 'png')}`)],
      changedPaths: [imageRelPath(3, 10, 'png')],
      movedPaths: [{ from: imageRelPath(1, 10, 'png'), to: 'moved.png' }],
      removedPaths: [imageRelPath(2, 10, 'png')],
      unreadable: 1,
      failed: [{ path: imageRelPath(3, 10, 'png'), error: expect.any(String) }],
    });
    const afterMove = store.images.findByPath(collectionId, 'moved.png')!;
    expect(afterMove.id).toBe(movedImage.id);
    expect(store.images.findByPath(collectionId, imageRelPath(1, 10, 'png'))).toBeUndefined();
    expect(store.labels.get(movedImage.id, classSet.id)?.classOrdinal).toBe(0);
    const removed = store.images.findByPath(collectionId, imageRelPath(2, 10, 'png'))!;
    expect(removed.status).toBe('missing');
    expect(store.images.findByPath(collectionId, imageRelPath(3, 10, 'png'))!.status).toBe('error');

    // A missing file that comes back is found again under its old row.
    writeFileSync(path(2), removedBytes);
    const back = await scanCollection(store, collectionId);
    expect(back).toMatchObject({ added: 0, changed: 1, removed: 0, moved: 0 });
    expect(back.changedPaths).toEqual([imageRelPath(2, 10, 'png')]);
    expect(store.images.findByPath(collectionId, imageRelPath(2, 10, 'png'))).toMatchObject({
      id: removed.id,
      status: 'ok',
    });

    // One that comes back untouched (moved out and back) is new again, and named as such.
    const away = join(tempDir('metatpt-away-'), 'away.png');
    renameSync(path(4), away);
    expect(await scanCollection(store, collectionId)).toMatchObject({
      removedPaths: [imageRelPath(4, 10, 'png')],
    });
    renameSync(away, path(4));
    expect(await scanCollection(store, collectionId)).toMatchObject({
      added: 1,
      addedPaths: [imageRelPath(4, 10, 'png')],
      removed: 0,
    });
  });

  it('stops when aborted, keeps what it found and marks nothing removed', async () => {
    const store = tempStore();
    const { collectionId } = await imageCollection(store, 40);
    await scanCollection(store, collectionId);
    const controller = new AbortController();
    const scan = scanCollection(store, collectionId, {
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => p.seen >= 5 && controller.abort(new Error('stop')),
    });
    await expect(scan).rejects.toThrow('stop');
    expect(store.images.countByStatus(collectionId)).toEqual({ ok: 40, error: 0, missing: 0 });
  });
});

describe('resolveCollectionFile', () => {
  async function setup() {
    const store = tempStore();
    const { root, collectionId } = await imageCollection(store, 1);
    const outside = tempDir('metatpt-secret-');
    writeFileSync(join(outside, 'secret.png'), 'secret');
    symlinkSync(join(outside, 'secret.png'), join(root, 'link-out.png'));
    symlinkSync(join(root, imageRelPath(0, 10, 'png')), join(root, 'link-in.png'));
    return { store, root, collectionId };
  }

  it('returns the real path of a file inside the collection', async () => {
    const { store, root, collectionId } = await setup();
    const real = statSync(join(root, imageRelPath(0, 10, 'png')));
    const resolved = await resolveCollectionFile(store, collectionId, imageRelPath(0, 10, 'png'));
    expect(statSync(resolved).ino).toBe(real.ino);
    expect(statSync(await resolveCollectionFile(store, collectionId, 'link-in.png')).ino).toBe(real.ino);
    expect(
      await resolveCollectionFile(
        store,
        collectionId,
        `./d0000//${imageRelPath(0, 10, 'png').split('/')[1]}`,
      ),
    ).toBe(resolved);
  });

  it.each([
    ['parent segments', '../../etc/passwd', /"\.\." segment/],
    ['a parent segment in the middle', 'd0000/../../x.png', /"\.\." segment/],
    ['backslash parent segments', '..\\..\\x.png', /"\.\." segment/],
    ['an absolute path', '/etc/passwd', /absolute/],
    ['a Windows drive path', 'C:\\Windows\\win.ini', /absolute/],
    ['encoded traversal', '%2e%2e/%2e%2e/etc/passwd', /"\.\." segment/],
    ['double-encoded traversal', '%252e%252e%252fsecret.png', /"\.\." segment/],
    ['encoded slash traversal', '..%2f..%2fsecret.png', /"\.\." segment/],
    ['a NUL byte', 'img.png\0.txt', /NUL/],
    ['an encoded NUL byte', 'img.png%00', /NUL/],
    ['a symlink out of the root', 'link-out.png', /outside the collection/],
    ['a missing file', 'nope.png', /no such file/],
    ['a folder', 'd0000', /not a file/],
    ['an empty path', '', /empty/],
  ])('refuses %s', async (_name, relPath, reason) => {
    const { store, collectionId } = await setup();
    const attempt = resolveCollectionFile(store, collectionId, relPath);
    await expect(attempt).rejects.toBeInstanceOf(PathRefusedError);
    await expect(attempt).rejects.toThrow(reason);
  });
});

describe('thumbnails', () => {
  it('makes a 256px WebP once per content, and records a corrupt file as an error', async () => {
    const store = tempStore();
    const root = tempDir('metatpt-images-');
    await makeImageFolder({ out: root, count: 2, size: 300, perFolder: 10 });
    writeFileSync(
      join(root, 'truncated.png'),
      readFileSync(join(root, imageRelPath(0, 10, 'png'))).subarray(0, 200),
    );
    const { id: collectionId } = store.collections.create(root, 'big');
    await scanCollection(store, collectionId);
    const thumbnails = createThumbnailCache({ store, cacheDir: tempDir('metatpt-thumbs-') });

    const image = store.images.findByPath(collectionId, imageRelPath(0, 10, 'png'))!;
    const file = await thumbnails.thumbnailOf(image.id);
    const sharp = (await import('sharp')).default;
    expect(await sharp(file).metadata()).toMatchObject({ format: 'webp', width: 256, height: 256 });
    const madeAt = statSync(file).mtimeMs;
    expect(await thumbnails.thumbnailOf(image.id)).toBe(file);
    expect(statSync(file).mtimeMs).toBe(madeAt);

    const filled = await thumbnails.fill(collectionId);
    expect(filled).toEqual({ collectionId, made: 1, existing: 1, failed: 1 });
    const truncated = store.images.findByPath(collectionId, 'truncated.png')!;
    expect(truncated.status).toBe('error');
    expect(truncated.error).toMatch(/^thumbnail: /);
    await expect(thumbnails.thumbnailOf(truncated.id)).rejects.toThrow(/has no thumbnail/);
  });
});
