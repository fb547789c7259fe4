// Shared fixtures for backend tests: temporary folders and a store seeded with rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { openStore, type Store } from '../../src/backend/store/index.js';
import type { ImageResult } from '../../src/backend/jobs/types.js';

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

/** A plausible result over three classes; `seed` varies the numbers. */
export function fakeResult(seed: number, views = 0): ImageResult {
  const a = ((seed * 37) % 90) / 100 + 0.05;
  const probs = new Float32Array([a, (1 - a) * 0.7, (1 - a) * 0.3]);
  const zeroShotProbs = new Float32Array([(1 - a) * 0.3, a, (1 - a) * 0.7]);
  const entropy = (p: Float32Array) => -Array.from(p).reduce((s, x) => s + x * Math.log(x), 0);
  const argmax = (p: Float32Array) => p.indexOf(Math.max(...p));
  return {
    label: argmax(probs),
    probs,
    zeroShotProbs,
    entropy: entropy(probs),
    zeroShotEntropy: entropy(zeroShotProbs),
    adapted: views > 0,
    ctx: views > 0 ? { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) } : undefined,
    nearestTokens: views > 0 ? [['a'], ['photo']] : undefined,
    views: Array.from({ length: views }, (_, v) => ({
      theta: [1, 0, v / 10, 0, 1, 0],
      entropy: v / 2,
      selected: v < 2,
    })),
    losses: views > 0 ? { outer: [1.5, 1.2] } : undefined,
    timings: { total: 12.5 },
  };
}
