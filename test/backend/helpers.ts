// Shared fixtures for backend tests: temporary folders and a store seeded with rows.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { openStore, type NewRun, type Run, type Store } from '../../src/backend/store/index.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/**
 * The rows a run refers to (collection 1, class set 1, model 1), written with plain SQL into a
 * database at an older schema version, for migration tests.
 */
export function insertRunParentsSql(db: { exec(sql: string): unknown }): void {
  db.exec(`
    INSERT INTO collections (id, root, name, created_at) VALUES (1, '/r', 'r', 0);
    INSERT INTO class_sets (id, name, template, context_init, created_at, updated_at) VALUES (1, 'c', '{}', 'a', 0, 0);
    INSERT INTO models (id, name, dir, config_json, created_at) VALUES (1, 'm', '/m', '{}', 0);`);
}

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

/** A collection of `count` image rows (no files), the seeded class set and model. */
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
  return { collection, imageIds, ...seedClassSetAndModel(store) };
}

/** The classes of the seeded class set, in ordinal order. */
export const SEEDED_CLASSES = ['cat', 'dog', 'bird'];

/** A class set of `SEEDED_CLASSES` and a model row (no files): what a seeded run refers to. */
export function seedClassSetAndModel(store: Store) {
  const classSet = store.classSets.create({
    name: 'animals',
    template: 'a photo of a {}.',
    contextInit: 'a photo of a',
    classes: SEEDED_CLASSES.map((name) => ({ name })),
  });
  const model = store.models.upsert({ name: 'tiny-clip', dir: '/models/tiny', config: { arch: 'ViT-B/32' } });
  return { classSet, model };
}

/** The rows a run refers to: what `seedCollection` returns. */
export type SeededRows = Pick<ReturnType<typeof seedCollection>, 'collection' | 'classSet' | 'model'>;

/** A queued run of `method` over the whole seeded collection. */
export function createCollectionRun(
  store: Store,
  seeded: SeededRows,
  method: NewRun['method'],
  params: NewRun['params'] = {},
): Run {
  return store.runs.create({
    collectionId: seeded.collection.id,
    classSetId: seeded.classSet.id,
    modelId: seeded.model.id,
    method,
    params,
    scope: { kind: 'collection' },
  });
}

/**
 * A database file with a collection of `count` image rows and a queued TPT run over it, and an empty
 * log file beside it, for tests where child processes execute the run (workers/run-child.ts).
 */
export function runOnDisk(count: number) {
  const dir = tempDir();
  const dbPath = join(dir, 'workbench.db');
  const logPath = join(dir, 'processed.log');
  writeFileSync(logPath, '');
  const store = openStore(dbPath);
  const seeded = seedCollection(store, count);
  const run = createCollectionRun(store, seeded, 'tpt', { steps: 1 });
  return { store, dbPath, logPath, run, ...seeded };
}
