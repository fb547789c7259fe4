// Issue 13, "also": a file whose content changed must not keep its old prediction anywhere (case
// 22-stale-prediction-after-change); the next run over it re-scores it.
import { copyFileSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/backend/store/index.js';
import { exportItemsFromStore } from '../../../src/backend/export/from-store.js';
import { tempDir } from '../helpers.js';
import { DEMO_CLASSES, DEMO_IMAGES, EMBEDDED_MODEL, metatpt } from '../../cases.js';

const predictions = async (db: string) => {
  const { out } = await metatpt(['predictions', '--db', db, '--run', '1', '--json']);
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { path: string; label: string })
      .map((p) => [p.path.split('/').pop(), p.label]),
  );
};

describe('a file that changes on disk', () => {
  it('loses its old results at the rescan and the next run scores its new content', async () => {
    const dir = tempDir('stale-');
    const photos = join(dir, 'photos');
    mkdirSync(photos);
    // Two clean demo pictures of different shapes (a star and a square); a.webp later becomes a copy
    // of b.webp, so its new prediction must be b's: no expected label depends on the model's accuracy.
    copyFileSync(join(DEMO_IMAGES, 'shape-0004.webp'), join(photos, 'a.webp'));
    copyFileSync(join(DEMO_IMAGES, 'shape-0005.webp'), join(photos, 'b.webp'));
    const db = join(dir, 't.db');
    expect((await metatpt(['index', '--db', db, '--json', photos])).code).toBe(0);
    const run = await metatpt([
      ...['run', '--db', db, '--collection', '1', '--model', EMBEDDED_MODEL, '--device', 'cpu'],
      ...['--classes-file', DEMO_CLASSES, '--json'],
    ]);
    expect(run.code, run.err).toBe(0);
    const before = await predictions(db);
    expect(before['a.webp']).not.toBe(before['b.webp']);

    // Another picture under the same name; a later mtime, as a copy gives.
    copyFileSync(join(photos, 'b.webp'), join(photos, 'a.webp'));
    const later = new Date(Date.now() + 5000);
    utimesSync(join(photos, 'a.webp'), later, later);
    const rescan = await metatpt(['index', '--db', db, '--json', photos]);
    expect(JSON.parse(rescan.out)).toMatchObject({ changed: 1 });

    // Gone from the predictions, the grid and the export; the run waits to redo it.
    expect(Object.keys(await predictions(db))).toEqual(['b.webp']);
    const store = openStore(db);
    try {
      expect(store.runs.require(1)).toMatchObject({ done: 1 });
      const item = exportItemsFromStore(store, { runId: 1, include: 'predictions' }).items.find((i) =>
        i.relativePath.endsWith('a.webp'),
      );
      expect(item).toMatchObject({ label: null, source: null });
    } finally {
      store.close();
    }

    // The next run scores the new content (libvips must not serve the file's old pixels).
    const next = await metatpt([
      ...['run', '--db', db, '--collection', '1', '--model', EMBEDDED_MODEL, '--device', 'cpu'],
      ...['--classes-file', DEMO_CLASSES, '--json'],
    ]);
    expect(next.code, next.err).toBe(0);
    const { out } = await metatpt(['predictions', '--db', db, '--run', '2', '--json']);
    const after = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { path: string; label: string })
        .map((p) => [p.path.split('/').pop(), p.label]),
    );
    expect(after['a.webp']).toBe(before['b.webp']);
    expect(after['b.webp']).toBe(before['b.webp']);
  });
});
