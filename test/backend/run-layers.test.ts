// A collection's view: adapted runs layered on a base run (newest result per image wins), the
// migration that keeps older runs as layers, runs that say what they are, and export of the view.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { errorPayload } from '../../src/backend/api/dispatch.js';
import { exportItemsFromStore } from '../../src/backend/export/from-store.js';
import type { RunExecutor } from '../../src/backend/jobs/executor.js';
import type { ThumbnailCache } from '../../src/backend/library/thumbnails.js';
import { DEMO_CLASS_SET, openDemo } from '../../src/backend/services/demo.js';
import { createServices } from '../../src/backend/services/index.js';
import { runSettings } from '../../src/backend/services/runs.js';
import type { Stage2Service } from '../../src/backend/services/stage2.js';
import { openDatabase } from '../../src/backend/store/database.js';
import { openStore, type Store } from '../../src/backend/store/index.js';
import { createCollectionRun, insertRunParentsSql, seedCollection, tempDir, tempStore } from './helpers.js';
import { fakeResult } from './fake-results.js';

/** Records a result for each image, with `views` > 0 marking it adapted. */
function record(store: Store, runId: number, imageIds: number[], seed: number, views = 0) {
  for (const [i, imageId] of imageIds.entries())
    store.results.recordResult(runId, imageId, fakeResult(seed + i, views));
}

function layeredFixture() {
  const store = tempStore();
  const seeded = seedCollection(store, 6);
  const { collection, classSet, model, imageIds } = seeded;
  const base = createCollectionRun(store, seeded, 'zeroshot');
  record(store, base.id, imageIds, 0);
  const layer = (ids: number[], scope: 'images' | 'uncertain') =>
    store.runs.create({
      collectionId: collection.id,
      classSetId: classSet.id,
      modelId: model.id,
      method: 'tpt',
      params: { preset: 'fast-cpu' },
      scope:
        scope === 'images'
          ? { kind: 'images', imageIds: ids }
          : { kind: 'uncertain', baseRunId: base.id, minZeroShotEntropy: 0 },
      baseRunId: scope === 'images' ? base.id : undefined,
    });
  return { store, seeded, base, layer };
}

describe('a run with adapted runs layered on it', () => {
  it('shows every image once, the newest layer winning, and says where each result came from', () => {
    const { store, seeded, base, layer } = layeredFixture();
    const { imageIds, collection } = seeded;
    const first = layer(imageIds.slice(0, 3), 'images');
    record(store, first.id, imageIds.slice(0, 3), 10, 4);
    const second = layer(imageIds.slice(2, 4), 'images');
    record(store, second.id, imageIds.slice(2, 3), 20, 4); // image 3 still pending
    expect(first.baseRunId).toBe(base.id);
    expect(store.runs.layersOf(base.id).map((r) => r.id)).toEqual([first.id, second.id]);

    const view = store.grid.query({
      collectionId: collection.id,
      runId: base.id,
      layered: true,
      sort: { key: 'path' },
    });
    expect(view.total).toBe(6);
    expect(view.items.map((i) => i.runId)).toEqual([
      first.id,
      first.id,
      second.id,
      base.id,
      base.id,
      base.id,
    ]);
    expect(view.items[2].predicted).toBe(fakeResult(20, 4).label);
    expect(view.items.map((i) => i.adapted)).toEqual([true, true, true, false, false, false]);

    // The run alone still shows only its own results.
    const alone = store.grid.query({ collectionId: collection.id, runId: first.id, hasPrediction: true });
    expect(alone.total).toBe(3);

    // Sorting and filtering work over the view; images without a result sort last.
    const byEntropy = store.grid.query({
      collectionId: collection.id,
      runId: base.id,
      layered: true,
      sort: { key: 'entropy', direction: 'desc' },
    });
    const entropies = byEntropy.items.map((i) => i.entropy!);
    expect(entropies).toEqual([...entropies].sort((a, b) => b - a));
    const adaptedOnly = store.grid.query({
      collectionId: collection.id,
      runId: base.id,
      layered: true,
      entropy: { min: 0 },
      disagreement: true,
    });
    expect(adaptedOnly.items.every((i) => i.predicted !== i.zeroShotLabel)).toBe(true);
  });

  it("layers an 'uncertain' run on its run, never a zero-shot run, and a layer's layer on the base", () => {
    const { store, seeded, base, layer } = layeredFixture();
    expect(layer([], 'uncertain').baseRunId).toBe(base.id);
    const onLayer = store.runs.create({
      collectionId: seeded.collection.id,
      classSetId: seeded.classSet.id,
      modelId: seeded.model.id,
      method: 'metatpt',
      params: {},
      scope: { kind: 'images', imageIds: [seeded.imageIds[0]] },
      baseRunId: layer([], 'uncertain').id,
    });
    expect(onLayer.baseRunId).toBe(base.id);
    expect(createCollectionRun(store, seeded, 'zeroshot').baseRunId).toBeNull();
  });

  it('answers a run of another collection and bad filters as invalid input, not as a failure', () => {
    const { store, seeded, base } = layeredFixture();
    const other = store.collections.create('/elsewhere', 'elsewhere');
    let thrown: unknown;
    try {
      store.grid.query({ collectionId: other.id, runId: base.id, layered: true });
    } catch (error) {
      thrown = error;
    }
    expect(errorPayload(thrown)).toEqual({
      message: `run ${base.id} is not a run of collection ${other.id}`,
      code: 'invalid-input',
    });
    expect(() => store.grid.query({ collectionId: seeded.collection.id, limit: 0 })).toThrow(/limit/);
  });

  it('exports the view: every image, with the layer that labeled it', () => {
    const { store, seeded, base, layer } = layeredFixture();
    const adapted = layer(seeded.imageIds.slice(0, 2), 'images');
    record(store, adapted.id, seeded.imageIds.slice(0, 2), 30, 4);
    const single = exportItemsFromStore(store, { runId: adapted.id, include: 'predictions' });
    expect(single.items.filter((i) => i.label !== null)).toHaveLength(2);
    const view = exportItemsFromStore(store, { runId: base.id, layered: true, include: 'predictions' });
    expect(view.items.filter((i) => i.label !== null)).toHaveLength(6);
    expect(view.items.map((i) => i.extra?.run_id)).toEqual([
      adapted.id,
      adapted.id,
      ...Array(4).fill(base.id),
    ]);
    expect(view.provenance.params?.layers).toEqual([adapted.id]);
  });
});

describe('a changed file', () => {
  it('loses its results, and the runs that had them count one image less', () => {
    const { store, seeded, base } = layeredFixture();
    const [changed] = seeded.imageIds;
    const image = store.images.require(changed);
    store.images.updateFile(
      changed,
      seeded.collection.id,
      { relPath: image.relPath, size: 1, mtimeMs: 1, contentHash: 'new', width: 8, height: 8, error: null },
      Date.now(),
    );
    expect(store.results.predictionsOfImage(changed)).toEqual([]);
    expect(store.runs.require(base.id)).toMatchObject({ total: 5, done: 5 });
    // An unchanged rescan keeps them.
    const other = store.images.require(seeded.imageIds[1]);
    store.images.updateFile(other.id, seeded.collection.id, { ...other, error: null }, Date.now());
    expect(store.results.predictionsOfImage(other.id)).toHaveLength(1);
  });
});

describe('runs that say what they are', () => {
  it('keep a name, the prompt version they scored with and their time without pauses', () => {
    const store = tempStore();
    const seeded = seedCollection(store, 2);
    const run = createCollectionRun(store, seeded, 'zeroshot');
    expect(run).toMatchObject({ name: null, promptVersion: 1, activeMs: 0 });
    expect(store.runs.rename(run.id, '  first pass ').name).toBe('first pass');
    expect(store.runs.rename(run.id, ' ').name).toBeNull();

    store.classSets.update(seeded.classSet.id, { name: 'renamed' });
    expect(store.classSets.require(seeded.classSet.id).promptVersion).toBe(1);
    store.classSets.update(seeded.classSet.id, { template: 'a picture of a {}.' });
    expect(store.classSets.require(seeded.classSet.id).promptVersion).toBe(2);
    expect(createCollectionRun(store, seeded, 'zeroshot').promptVersion).toBe(2);

    const stretch = (ms: number) =>
      store.db.prepare('UPDATE runs SET running_since = ? WHERE id = ?').run(Date.now() - ms, run.id);
    store.runs.setStatus(run.id, 'running');
    stretch(5000);
    store.runs.setStatus(run.id, 'paused');
    const paused = store.runs.require(run.id).activeMs!;
    expect(paused).toBeGreaterThanOrEqual(5000);
    expect(paused).toBeLessThan(60_000);
    // A process that died while running: its stretch ends at its last result, not at the restart.
    store.runs.setStatus(run.id, 'running');
    stretch(3_600_000);
    store.runs.setStatus(run.id, 'queued', { interrupted: true });
    expect(store.runs.require(run.id).activeMs).toBe(paused);
  });

  it('spell out every setting of the method, the preset and defaults filled in', () => {
    expect(runSettings('zeroshot', { preset: 'paper' })).toEqual({});
    const tpt = runSettings('tpt', { preset: 'fast-cpu', steps: 2 });
    expect(tpt).toMatchObject({
      preset: 'fast-cpu',
      views: 16,
      steps: 2,
      lr: 0.005,
      selectRatio: 0.1,
      seed: 0,
    });
    expect(tpt).not.toHaveProperty('innerSteps');
    expect(runSettings('metatpt', { preset: 'paper', variant: 'one-stage' })).toMatchObject({
      views: 64,
      innerSteps: 1,
      variant: 'one-stage',
    });
  });
});

describe('migration 7', () => {
  it("keeps existing runs and makes an adapted 'uncertain' run a layer on the run it selected from", () => {
    const path = join(tempDir(), 'v6.db');
    const v6 = openDatabase(path, { targetVersion: 6 });
    insertRunParentsSql(v6);
    v6.exec(`
      INSERT INTO runs (id, collection_id, class_set_id, model_id, method, params_json, scope_json, status, created_at)
        VALUES (1, 1, 1, 1, 'zeroshot', '{}', '{"kind":"collection"}', 'done', 0),
               (2, 1, 1, 1, 'tpt', '{}', '{"kind":"uncertain","baseRunId":1,"minZeroShotEntropy":0.5}', 'done', 0),
               (3, 1, 1, 1, 'tpt', '{}', '{"kind":"images","imageCount":2}', 'cancelled', 0);`);
    v6.close();
    const store = openStore(path);
    expect(store.runs.list().map((r) => [r.id, r.baseRunId, r.promptVersion, r.activeMs])).toEqual([
      [3, null, null, null],
      [2, 1, null, null],
      [1, null, null, null],
    ]);
    expect(store.classSets.require(1).promptVersion).toBe(1);
    store.close();
  });
});

describe('the demo', () => {
  it('opens with its class set and its ground truth as imported labels, and again without doubling', async () => {
    const demo = tempDir();
    mkdirSync(join(demo, 'images'));
    for (const [i, colour] of [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
    ].entries()) {
      await sharp({
        create: {
          width: 8,
          height: 8,
          channels: 3,
          background: { r: colour[0], g: colour[1], b: colour[2] },
        },
      })
        .png()
        .toFile(join(demo, 'images', `shape-${i}.png`));
    }
    writeFileSync(join(demo, 'classes.txt'), 'circle\nsquare\n');
    writeFileSync(
      join(demo, 'ground_truth-v2.csv'),
      'filepath,label,style\nimages/shape-0.png,circle,clean\nimages/shape-1.png,square,clean\nimages/shape-2.png,blob,x\n',
    );
    const store = tempStore();
    const services = createServices({
      store,
      executor: {} as RunExecutor,
      thumbnails: {} as ThumbnailCache,
      zeroShotText: async () => {
        throw new Error('unused');
      },
      learn: async () => {
        throw new Error('unused');
      },
      stage2: {} as Stage2Service,
    });
    const deps = { store, collections: services.collections, classSets: services.classSets };
    const opened = await openDemo(deps, demo);
    expect(opened.collection.imageCounts.ok).toBe(3);
    expect(opened.classSet).toMatchObject({
      name: DEMO_CLASS_SET,
      classes: [{ name: 'circle' }, { name: 'square' }],
    });
    expect(opened.groundTruth).toMatchObject({
      applied: 2,
      unknownClass: 1,
      file: join(demo, 'ground_truth-v2.csv'),
    });
    const labels = store.grid.query({
      collectionId: opened.collection.id,
      classSetId: opened.classSet.id,
      sort: { key: 'path' },
    });
    // Imported, not decided: every image is still to review.
    expect(labels.items.map((i) => [i.importedClass, i.decision])).toEqual([
      [0, null],
      [1, null],
      [null, null],
    ]);
    const again = await openDemo(deps, demo);
    expect(again.classSet.id).toBe(opened.classSet.id);
    expect(again.groundTruth).toMatchObject({ applied: 0, replaced: 0, unchanged: 2 });
    await expect(openDemo(deps, tempDir())).rejects.toThrow(/classes\.txt: cannot read the classes file/);
  });
});
