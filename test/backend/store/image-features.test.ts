import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/backend/store/database.js';
import { float32ToBlob, migrations, openStore } from '../../../src/backend/store/index.js';
import { fakeResult } from '../fake-results.js';
import { createCollectionRun, seedCollection, tempDir, tempStore } from '../helpers.js';

const unit = (...values: number[]) => {
  const norm = Math.hypot(...values);
  return new Float32Array(values.map((v) => v / norm));
};

/** A fake result that carries image features, as the engine's do. */
const withFeatures = (seed: number, features: Float32Array) => ({
  ...fakeResult(seed),
  imageFeatures: features,
});

describe('image features cache', () => {
  it('upgrades a version 4 database: results stay, features can be cached', () => {
    const path = join(tempDir(), 'v4.db');
    const v4 = openDatabase(path, { targetVersion: 4 });
    v4.exec(`
      INSERT INTO collections (id, root, name, created_at) VALUES (1, '/r', 'r', 0);
      INSERT INTO images (id, collection_id, rel_path, size, mtime_ms, content_hash, status, first_seen, last_seen)
        VALUES (1, 1, 'a.png', 1, 0, 'h1', 'ok', 0, 0), (2, 1, 'b.png', 1, 0, 'h2', 'ok', 0, 0);
      INSERT INTO class_sets (id, name, template, context_init, created_at, updated_at) VALUES (1, 'c', '{}', 'a', 0, 0);
      INSERT INTO models (id, name, dir, config_json, created_at) VALUES (1, 'm', '/m', '{}', 0);
      INSERT INTO runs (id, collection_id, class_set_id, model_id, method, params_json, scope_json, status, created_at)
        VALUES (1, 1, 1, 1, 'zeroshot', '{}', '{}', 'running', 0);
      INSERT INTO run_items (run_id, image_id, state) VALUES (1, 1, 'done'), (1, 2, 'pending');
      INSERT INTO predictions (run_id, image_id, label, entropy, zero_shot_entropy, adapted, created_at,
        confidence, zero_shot_label) VALUES (1, 1, 0, 0.5, 0.5, 0, 0, 0.75, 0);`);
    v4.prepare(
      `INSERT INTO prediction_details (run_id, image_id, probs, zero_shot_probs, timings_json)
       VALUES (1, 1, ?, ?, '{}')`,
    ).run(float32ToBlob([0.75, 0.25]), float32ToBlob([0.75, 0.25]));
    v4.close();

    const store = openStore(path);
    expect(store.schemaVersion()).toBe(migrations.length);
    expect(store.results.prediction(1, 1)!.confidence).toBe(0.75);
    expect(store.imageFeatures.get(1, 1)).toBeUndefined();
    store.results.recordResult(1, 2, withFeatures(1, unit(3, 4)));
    expect(Array.from(store.imageFeatures.get(1, 2)!)).toEqual(Array.from(unit(3, 4)));
    store.close();
  });

  it("writes an image's features with its result under the run's model, atomically", () => {
    const store = tempStore();
    const seeded = seedCollection(store, 2);
    const [first, second] = seeded.imageIds;
    const run = createCollectionRun(store, seeded, 'metatpt');
    store.results.recordResult(run.id, first, withFeatures(1, unit(1, 2, 2)));
    expect(Array.from(store.imageFeatures.get(seeded.model.id, first)!)).toEqual(Array.from(unit(1, 2, 2)));

    // A result that cannot be stored leaves no features either.
    const bad = { ...fakeResult(2, 2), imageFeatures: unit(1, 1, 1) };
    bad.views![0].theta = [1];
    expect(() => store.results.recordResult(run.id, second, bad)).toThrow(/theta of 1 numbers/);
    expect(store.imageFeatures.get(seeded.model.id, second)).toBeUndefined();
  });

  it("keeps the run's precision with its results and caches only fp32 features", () => {
    const store = tempStore();
    const seeded = seedCollection(store, 2);
    const [first, second] = seeded.imageIds;
    const int8 = createCollectionRun(store, seeded, 'tpt', { precision: 'int8', views: 16 });
    const fp32 = createCollectionRun(store, seeded, 'zeroshot', { precision: 'fp32' });
    expect(store.runs.require(int8.id).params).toEqual({ precision: 'int8', views: 16 });
    store.results.recordResult(int8.id, first, withFeatures(1, unit(1, 2, 2)));
    store.results.recordResult(fp32.id, second, withFeatures(2, unit(2, 1, 2)));
    expect(store.results.prediction(int8.id, first)).toBeDefined();
    expect(store.imageFeatures.get(seeded.model.id, first)).toBeUndefined();
    expect(Array.from(store.imageFeatures.get(seeded.model.id, second)!)).toEqual(Array.from(unit(2, 1, 2)));
  });

  it('pages the pending images of a run that have features under its model', () => {
    const store = tempStore();
    const seeded = seedCollection(store, 5);
    const { imageIds } = seeded;
    const first = createCollectionRun(store, seeded, 'zeroshot');
    for (const i of [0, 2, 3])
      store.results.recordResult(first.id, imageIds[i], withFeatures(i, unit(i + 1, 1)));
    const other = store.models.upsert({ name: 'other', dir: '/models/other', config: {} });

    const second = createCollectionRun(store, seeded, 'zeroshot');
    const page = (after: number) => store.imageFeatures.pendingWithFeatures(second.id, after, 2);
    expect(page(0).map((c) => c.imageId)).toEqual([imageIds[0], imageIds[2]]);
    expect(page(imageIds[2]).map((c) => c.imageId)).toEqual([imageIds[3]]);
    expect(Array.from(page(imageIds[2])[0].features)).toEqual(Array.from(unit(4, 1)));
    // Done items are not pending any more.
    store.results.recordResult(second.id, imageIds[0], fakeResult(0));
    expect(page(0).map((c) => c.imageId)).toEqual([imageIds[2], imageIds[3]]);

    // Another model's run finds none of them.
    const otherRun = store.runs.create({
      collectionId: seeded.collection.id,
      classSetId: seeded.classSet.id,
      modelId: other.id,
      method: 'zeroshot',
      params: {},
      scope: { kind: 'collection' },
    });
    expect(store.imageFeatures.pendingWithFeatures(otherRun.id, 0, 10)).toEqual([]);
  });

  it('drops features when the image content changes or the image or model goes', () => {
    const store = tempStore();
    const seeded = seedCollection(store, 3);
    const { imageIds, collection, model } = seeded;
    const run = createCollectionRun(store, seeded, 'zeroshot');
    imageIds.forEach((id, i) => store.results.recordResult(run.id, id, withFeatures(i, unit(1, i))));
    const image = (id: number) => store.images.require(id);
    const rescanned = (id: number, contentHash: string) => ({
      relPath: image(id).relPath,
      size: 999,
      mtimeMs: 1,
      contentHash,
      width: 64,
      height: 64,
      error: null,
    });

    // Same bytes with a new modification time: the features still hold.
    store.images.updateFile(
      imageIds[0],
      collection.id,
      rescanned(imageIds[0], image(imageIds[0]).contentHash!),
      1,
    );
    expect(store.imageFeatures.get(model.id, imageIds[0])).toBeDefined();
    // New bytes: they go.
    store.images.updateFile(imageIds[1], collection.id, rescanned(imageIds[1], 'new-hash'), 1);
    expect(store.imageFeatures.get(model.id, imageIds[1])).toBeUndefined();

    store.db.prepare('DELETE FROM images WHERE id = ?').run(imageIds[2]);
    expect(store.imageFeatures.get(model.id, imageIds[2])).toBeUndefined();
    store.runs.remove(run.id); // the runs refer to the model
    store.models.remove(model.id);
    expect(store.db.prepare('SELECT COUNT(*) FROM image_features').pluck().get()).toBe(0);
  });
});
