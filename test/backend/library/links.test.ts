// One rule for paths (issue 17): runs, thumbnails and the image routes read an image only where its
// real path lies inside the collection, unless the user added the collection with "follow links"
// (a choice stored with it). The attack: an indexed photo swapped for a link to a file elsewhere.
import { copyFileSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/app.js';
import { call, makeWorkspace, scoreZeroShot, startBackend, type Workspace } from '../app-fixtures.js';

let workspace: Workspace;
let backend: Backend;

afterEach(async () => {
  await backend?.close();
  workspace?.remove();
});

/** Indexes the photos (with the given link choice), then swaps the first photo for a link out of it. */
async function swappedCollection(followLinks: boolean | undefined) {
  workspace = await makeWorkspace(3);
  backend = await startBackend(workspace);
  const { collection } = await call(backend, 'collections.add', { folder: workspace.photos, followLinks });
  const folder = join(workspace.photos, 'd0000');
  const [first] = readdirSync(folder).sort();
  const outside = join(workspace.root, 'elsewhere');
  mkdirSync(outside);
  copyFileSync(join(folder, first), join(outside, first));
  rmSync(join(folder, first));
  symlinkSync(join(outside, first), join(folder, first));
  const image = (await call(backend, 'browse.grid', { collectionId: collection.id, limit: 10 })).items.find(
    (i) => i.relPath.endsWith(first),
  )!;
  const { run } = await scoreZeroShot(backend, collection.id);
  const items = await call(backend, 'runs.items', { runId: run.id });
  return { collection, image, items: new Map(items.map((item) => [item.imageId, item])) };
}

describe('a photo swapped for a link out of its collection', () => {
  it('is not read by a run, by the thumbnails or by the image route', async () => {
    const { collection, image, items } = await swappedCollection(undefined);
    expect(collection.followLinks).toBe(false);
    expect(items.get(image.imageId)).toMatchObject({ state: 'failed' });
    expect(items.get(image.imageId)!.error).toMatch(/leads outside the collection/);
    expect([...items.values()].filter((item) => item.state === 'done')).toHaveLength(2);
    await expect(backend.imageFile(image.imageId, 'thumb')).rejects.toThrow(/leads outside the collection/);
    await expect(backend.imageFile(image.imageId, 'full')).rejects.toThrow(/leads outside the collection/);
  });

  it('is read where the user chose to follow links, a choice the collection keeps', async () => {
    const { collection, image, items } = await swappedCollection(true);
    expect(collection.followLinks).toBe(true);
    expect(items.get(image.imageId)).toMatchObject({ state: 'done' });
    await call(backend, 'collections.rescan', { collectionId: collection.id });
    const [again] = await call(backend, 'collections.list', {});
    expect(again.followLinks).toBe(true);
    expect((await backend.imageFile(image.imageId, 'thumb')).contentType).toBe('image/webp');
  });
});
