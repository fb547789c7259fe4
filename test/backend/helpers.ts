// Shared fixtures for backend tests: temporary folders and a store seeded with rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { openStore, type Store } from '../../src/backend/store/index.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A fresh temporary directory, removed after the test. */
export function tempDir(prefix = 'metatpt-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store in a fresh temporary directory, closed after the test. */
export function tempStore(): Store {
  const store = openStore(join(tempDir(), 'workbench.db'));
  cleanups.push(() => store.db.open && store.close());
  return store;
}

/** A collection of `count` image rows (no files), a three-class set and a model. */
export function seedCollection(store: Store, count: number, root = '/data/photos') {
  const collection = store.collections.create(root, 'photos');
  const now = Date.now();
  const imageIds = store.transaction(() =>
    Array.from({ length: count }, (_, i) =>
      store.images.insert(
        collection.id,
        {
          relPath: `img-${String(i).padStart(6, '0')}.png`,
          size: 100 + i,
          mtimeMs: now,
          contentHash: `hash-${i}`,
          width: 64,
          height: 64,
          error: null,
        },
        now,
      ),
    ),
  );
  const classSet = store.classSets.create({
    name: 'animals',
    template: 'a photo of a {}.',
    contextInit: 'a photo of a',
    classes: [{ name: 'cat' }, { name: 'dog' }, { name: 'bird' }],
  });
  const model = store.models.upsert({ name: 'tiny-clip', dir: '/models/tiny', config: { arch: 'ViT-B/32' } });
  return { collection, imageIds, classSet, model };
}
