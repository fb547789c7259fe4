import { promises as fs } from 'node:fs';
import { parse } from 'csv-parse/sync';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  exportItemsFromStore,
  exportRun,
  importLabelsIntoStore,
} from '../../../src/backend/export/from-store.js';
import { importFromExport, importLabels } from '../../../src/backend/export/index.js';
import { hashFile } from '../../../src/backend/library/inspect.js';
import type { Store } from '../../../src/backend/store/index.js';
import { SEEDED_CLASSES, listFiles, makeTempDir, seedRun, writePng, type SeededRun } from './fixtures.js';

const APP = { name: 'MetaTPT Workbench', version: '0.1.0' };
const CLASSES = SEEDED_CLASSES;

let work: string;
let store: Store;
let seeded: SeededRun;

beforeEach(async () => {
  work = await makeTempDir('from-store');
  seeded = await seedRun(work);
  store = seeded.store;
});

afterEach(async () => {
  store.close();
  await fs.rm(work, { recursive: true, force: true });
});

describe('exportItemsFromStore', () => {
  it('takes the expert first, then an imported label, then predictions above the threshold, never a rejected one', () => {
    // Ground truth imported for img0 (which the expert labelled dog), img4 and img5.
    store.importedLabels.replace(seeded.classSetId, [
      { imageId: seeded.imageIds[0], classOrdinal: 2 },
      { imageId: seeded.imageIds[4], classOrdinal: 2 },
      { imageId: seeded.imageIds[5], classOrdinal: 0 },
    ]);
    const { items, provenance } = exportItemsFromStore(store, {
      runId: seeded.runId,
      include: 'predictions',
      minConfidence: 0.55,
    });
    const summary = items.map((i) => [
      i.relativePath,
      i.label,
      i.source,
      i.confidence === null ? null : Number(i.confidence.toFixed(2)),
    ]);
    // The confidence is the model's, so only a predicted label has one.
    expect(summary).toEqual([
      ['a/img0.png', 'dog', 'human', null], // the expert's label wins over the imported bird
      ['a/img1.png', 'dog', 'accepted', null],
      ['a/img2.png', null, null, null], // rejected
      ['b/img3.png', 'cat', 'predicted', 0.6],
      ['b/img4.png', 'bird', 'imported', null], // over its prediction (dog, 0.5)
      ['b/img5.png', 'cat', 'imported', null], // no prediction
    ]);
    expect(items[0].probs).toMatchObject({ dog: expect.closeTo(0.05, 5) });
    expect(items[0].sourcePath).toBe(path.join(work, 'photos', 'a', 'img0.png'));
    expect(items[0].extra).toMatchObject({ predicted_label: 'cat', decision: 'label' });
    expect(Object.keys(items[3].probs!)).toEqual(CLASSES);
    expect(provenance).toMatchObject({
      method: 'tpt',
      runId: seeded.runId,
      model: { name: 'tiny-clip' },
      classSet: {
        name: 'animals',
        classes: [{ name: 'cat', prompt: 'a photo of a cat.' }, { name: 'dog' }, { name: 'bird' }],
      },
    });
  });

  it('with include=reviewed keeps only the expert labels', () => {
    const { items } = exportItemsFromStore(store, { runId: seeded.runId, include: 'reviewed' });
    expect(items.filter((i) => i.label !== null).map((i) => i.relativePath)).toEqual([
      'a/img0.png',
      'a/img1.png',
    ]);
  });
});

describe('exportRun and importLabelsIntoStore', () => {
  it('exports, records the export, and its labels come back into another class set', async () => {
    const outDir = path.join(work, 'export');
    const { manifest } = await exportRun(
      store,
      { runId: seeded.runId, include: 'predictions' },
      { app: APP, format: 'imagefolder', outDir },
    );
    expect(await listFiles(outDir)).toEqual([
      'cat/img3.png',
      'dog/img0.png',
      'dog/img1.png',
      'dog/img4.png',
      'manifest.json',
    ]);
    expect(manifest.counts).toMatchObject({ reviewed: 1, accepted: 1, predicted: 2, omittedUnlabeled: 2 });
    const [record] = store.exports.list(seeded.collectionId);
    expect(record).toMatchObject({ runId: seeded.runId, format: 'imagefolder', outDir });
    expect(record.manifest).toMatchObject({ counts: manifest.counts });

    const other = store.classSets.create({
      name: 'copy',
      template: '{}',
      contextInit: 'a photo of a',
      classes: CLASSES.map((name) => ({ name })),
    });
    const imported = await importFromExport(outDir);
    const summary = importLabelsIntoStore(
      store,
      { collectionId: seeded.collectionId, classSetId: other.id },
      imported.labels,
    );
    expect(summary).toMatchObject({ applied: 4, replaced: 0, unchanged: 0, unmatched: 0, unknownClass: 0 });
    const labelOf = (i: number) => store.importedLabels.get(seeded.imageIds[i], other.id);
    expect(labelOf(0)).toMatchObject({ classOrdinal: 1 });
    expect(labelOf(3)).toMatchObject({ classOrdinal: 0 });
    expect(labelOf(5)).toBeUndefined();
    expect(store.labels.get(seeded.imageIds[0], other.id)).toBeUndefined();
  });

  it('refuses an image swapped for a link out of the collection, in every link mode, and leaves nothing', async () => {
    const secret = path.join(work, 'secret.txt');
    await fs.writeFile(secret, 'not for export');
    const victim = path.join(work, 'photos', 'a', 'img1.png');
    await fs.rename(victim, `${victim}.moved`);
    await fs.symlink(secret, victim);
    for (const link of ['copy', 'hardlink', 'symlink'] as const) {
      const outDir = path.join(work, `export-${link}`);
      await expect(
        exportRun(
          store,
          { runId: seeded.runId, include: 'predictions' },
          { app: APP, format: 'imagefolder', outDir, link },
        ),
      ).rejects.toThrow(`${victim} leads outside the collection (to ${secret}); it is not exported`);
      await expect(fs.stat(outDir)).rejects.toThrow(/ENOENT/);
    }
    expect(store.exports.list(seeded.collectionId)).toEqual([]);
    // A link that stays inside the collection is fine: the real file is exported.
    await fs.rm(victim);
    await fs.symlink(path.join(work, 'photos', 'a', 'img0.png'), victim);
    const outDir = path.join(work, 'export-inside');
    await exportRun(
      store,
      { runId: seeded.runId, include: 'predictions' },
      { app: APP, format: 'imagefolder', outDir },
    );
    expect(await fs.readFile(path.join(outDir, 'dog', 'img1.png'))).toEqual(
      await fs.readFile(path.join(work, 'photos', 'a', 'img0.png')),
    );
  });

  it('matches a foreign class-folder tree by file name and content hash, leaving decisions alone; a re-import replaces', async () => {
    const tree = path.join(work, 'foreign');
    // Same bytes as img3 and img0 (seeds 3 and 0), filed elsewhere; one class the set lacks.
    await writePng(path.join(tree, 'bird', 'img3.png'), 3);
    await writePng(path.join(tree, 'bird', 'img0.png'), 0);
    await writePng(path.join(tree, 'fish', 'img4.png'), 4);
    const { labels } = await importLabels(tree, 'imagefolder', { hashFile });
    const summary = importLabelsIntoStore(
      store,
      { collectionId: seeded.collectionId, classSetId: seeded.classSetId },
      labels,
    );
    expect(summary).toMatchObject({ applied: 2, replaced: 0, unknownClass: 1, unmatched: 0 });
    const imported = (i: number) => store.importedLabels.get(seeded.imageIds[i], seeded.classSetId);
    expect(imported(3)).toMatchObject({ classOrdinal: 2 });
    expect(imported(0)).toMatchObject({ classOrdinal: 2 });
    // The expert said dog for img0: his decision stays, and undo has no import to take back.
    expect(store.labels.get(seeded.imageIds[0], seeded.classSetId)).toMatchObject({
      classOrdinal: 1,
      source: 'human',
    });
    const history = store.labels.recentActions(
      { collectionId: seeded.collectionId, classSetId: seeded.classSetId },
      10,
    );
    expect(history.map((a) => a.kind)).toEqual(['review']);

    // Re-importing with img3 moved to cat replaces that imported label only.
    await fs.rm(tree, { recursive: true });
    await writePng(path.join(tree, 'cat', 'img3.png'), 3);
    await writePng(path.join(tree, 'bird', 'img0.png'), 0);
    const again = await importLabels(tree, 'imagefolder', { hashFile });
    expect(
      importLabelsIntoStore(
        store,
        { collectionId: seeded.collectionId, classSetId: seeded.classSetId },
        again.labels,
      ),
    ).toMatchObject({ applied: 1, replaced: 1, unchanged: 1 });
    expect(imported(3)).toMatchObject({ classOrdinal: 0 });
    expect(store.labels.get(seeded.imageIds[3], seeded.classSetId)).toBeUndefined();
  });

  it("writes a CSV whose confidence is the model's probability of a predicted label only", async () => {
    store.importedLabels.replace(seeded.classSetId, [{ imageId: seeded.imageIds[5], classOrdinal: 2 }]);
    const outDir = path.join(work, 'csv');
    await exportRun(
      store,
      { runId: seeded.runId, include: 'predictions' },
      { app: APP, format: 'csv', outDir },
    );
    const text = await fs.readFile(path.join(outDir, 'labels.csv'), 'utf8');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    const row = (sourcePath: string) => rows.find((r) => r.source_path === sourcePath)!;
    expect(Object.keys(rows[0]).slice(0, 4)).toEqual(['path', 'label', 'confidence', 'source']);
    // img0: the expert said dog where the model gave dog 0.05 — no confidence; the probability stays.
    expect(row('a/img0.png')).toMatchObject({ label: 'dog', source: 'human', confidence: '' });
    expect(Number(row('a/img0.png').prob_dog).toFixed(2)).toBe('0.05');
    expect(row('b/img3.png')).toMatchObject({ label: 'cat', source: 'predicted' });
    expect(Number(row('b/img3.png').confidence).toFixed(2)).toBe('0.60');
    expect(row('b/img5.png')).toMatchObject({ label: 'bird', source: 'imported', confidence: '' });
  });
});
