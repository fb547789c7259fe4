import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, blobToFloat32, float32ToBlob, migrations } from '../../../src/backend/store/index.js';
import { openDatabase, schemaVersion, type Db } from '../../../src/backend/store/database.js';
import { createCollectionRun, insertRunParentsSql, seedCollection, tempDir, tempStore } from '../helpers.js';
import { fakeResult } from '../fake-results.js';

/**
 * Row 1 of each table a prediction refers to (collection, image, class set, model, a done run of
 * `method`), written with SQL so that it fits every schema version these tests start from.
 */
function insertRunOverOneImage(db: Db, method: string): void {
  db.exec(`
    INSERT INTO collections (id, root, name, created_at) VALUES (1, '/r', 'r', 0);
    INSERT INTO images (id, collection_id, rel_path, size, mtime_ms, status, first_seen, last_seen)
      VALUES (1, 1, 'a.png', 1, 0, 'ok', 0, 0);
    INSERT INTO class_sets (id, name, template, context_init, created_at, updated_at) VALUES (1, 'c', '{}', 'a', 0, 0);
    INSERT INTO models (id, name, dir, config_json, created_at) VALUES (1, 'm', '/m', '{}', 0);
    INSERT INTO runs (id, collection_id, class_set_id, model_id, method, params_json, scope_json, status, created_at)
      VALUES (1, 1, 1, 1, '${method}', '{}', '{}', 'done', 0);`);
}

describe('migrations', () => {
  it('refuses a path that is not a regular file, writing nothing beside it', () => {
    const dir = tempDir();
    expect(() => openStore('/dev/null')).toThrow('cannot open database /dev/null: it is not a regular file');
    expect(() => openStore(dir)).toThrow(`cannot open database ${dir}: it is not a regular file`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('builds the latest schema from an empty file', () => {
    const store = tempStore();
    expect(store.schemaVersion()).toBe(migrations.length);
    const tables = store.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    expect(tables).toEqual(
      expect.arrayContaining([
        'collections',
        'images',
        'runs',
        'run_items',
        'predictions',
        'views',
        'labels',
        'label_history',
        'exports',
      ]),
    );
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it('upgrades a version 1 database and fills the new grid columns from the stored probabilities', () => {
    const path = join(tempDir(), 'old.db');
    const v1 = openDatabase(path, { targetVersion: 1 });
    expect(schemaVersion(v1)).toBe(1);
    insertRunOverOneImage(v1, 'tpt');
    v1.prepare(
      `INSERT INTO predictions (run_id, image_id, label, probs, zero_shot_probs, entropy, zero_shot_entropy, adapted,
         timings_json, created_at) VALUES (1, 1, 1, ?, ?, 0.5, 0.9, 1, '{}', 0)`,
    ).run(float32ToBlob([0.25, 0.75]), float32ToBlob([0.625, 0.375]));
    v1.close();

    const store = openStore(path);
    expect(store.schemaVersion()).toBe(migrations.length);
    const prediction = store.results.prediction(1, 1)!;
    expect(prediction.confidence).toBe(0.75);
    expect(prediction.zeroShotLabel).toBe(0);
    expect(Array.from(prediction.probs)).toEqual([0.25, 0.75]);
    store.close();
  });

  it('moves prediction details out of a version 3 predictions table, keeping views attached', () => {
    const path = join(tempDir(), 'v3.db');
    const v3 = openDatabase(path, { targetVersion: 3 });
    insertRunOverOneImage(v3, 'metatpt');
    v3.prepare(
      `INSERT INTO predictions (run_id, image_id, label, probs, zero_shot_probs, entropy, zero_shot_entropy, adapted,
         losses_json, timings_json, created_at, confidence, zero_shot_label)
       VALUES (1, 1, 0, ?, ?, 0.5, 0.9, 1, '{"outer":[2,1]}', '{"total":5}', 0, 0.5, 1)`,
    ).run(float32ToBlob([0.5, 0.5]), float32ToBlob([0.25, 0.75]));
    v3.prepare(
      'INSERT INTO views (run_id, image_id, view_index, theta, entropy, selected) VALUES (1, 1, 0, ?, 0.1, 1)',
    ).run(float32ToBlob([1, 0, 0, 0, 1, 0]));
    v3.close();

    const store = openStore(path);
    const prediction = store.results.prediction(1, 1)!;
    expect(prediction).toMatchObject({ losses: { outer: [2, 1] }, timings: { total: 5 }, zeroShotLabel: 1 });
    expect(Array.from(prediction.zeroShotProbs)).toEqual([0.25, 0.75]);
    const columns = store.db.prepare("SELECT name FROM pragma_table_info('predictions')").pluck().all();
    expect(columns).not.toContain('probs');
    expect(store.results.views(1, 1)).toHaveLength(1);
    store.runs.remove(1); // cascades through predictions to details and views
    expect(store.db.prepare('SELECT COUNT(*) FROM prediction_details').pluck().get()).toBe(0);
    expect(store.db.prepare('SELECT COUNT(*) FROM views').pluck().get()).toBe(0);
    store.close();
  });

  it("renames the stored method 'zero-shot' to the engine's 'zeroshot'", () => {
    const path = join(tempDir(), 'v2.db');
    const v2 = openDatabase(path, { targetVersion: 2 });
    insertRunParentsSql(v2);
    v2.exec(`
      INSERT INTO runs (id, collection_id, class_set_id, model_id, method, params_json, scope_json, status, created_at)
        VALUES (1, 1, 1, 1, 'zero-shot', '{}', '{}', 'done', 0), (2, 1, 1, 1, 'tpt', '{}', '{}', 'done', 0);`);
    v2.close();
    const store = openStore(path);
    expect(store.runs.list().map((run) => [run.id, run.method])).toEqual([
      [2, 'tpt'],
      [1, 'zeroshot'],
    ]);
    store.close();
  });

  it('moves imported labels out of a version 10 labels table (and back from its history), keeping every decision', () => {
    const path = join(tempDir(), 'v10.db');
    const v10 = openDatabase(path, { targetVersion: 10 });
    insertRunParentsSql(v10);
    const state = (decision: string, ordinal: number | null, source: string) =>
      JSON.stringify({
        decision,
        classOrdinal: ordinal,
        rejectedOrdinal: null,
        source,
        runId: source === 'accepted' ? 1 : null,
        createdAt: 5,
      });
    v10.exec(`
      INSERT INTO classes (class_set_id, ordinal, name) VALUES (1, 0, 'cat'), (1, 1, 'dog');
      INSERT INTO images (id, collection_id, rel_path, size, mtime_ms, status, first_seen, last_seen)
        VALUES (1, 1, 'a.png', 1, 0, 'ok', 0, 0), (2, 1, 'b.png', 1, 0, 'ok', 0, 0),
               (3, 1, 'c.png', 1, 0, 'ok', 0, 0), (4, 1, 'd.png', 1, 0, 'ok', 0, 0);
      INSERT INTO runs (id, collection_id, class_set_id, model_id, method, params_json, scope_json, status, created_at)
        VALUES (1, 1, 1, 1, 'tpt', '{}', '{}', 'done', 0);
      INSERT INTO labels (image_id, class_set_id, decision, class_ordinal, rejected_ordinal, source, run_id, created_at)
        VALUES (1, 1, 'label', 1, NULL, 'human', NULL, 5), (2, 1, 'label', 0, NULL, 'accepted', 1, 5),
               (3, 1, 'label', 1, NULL, 'imported', NULL, 3), (4, 1, 'label', 0, NULL, 'imported', NULL, 3);
      INSERT INTO label_actions (id, collection_id, class_set_id, kind, undone, created_at)
        VALUES (1, 1, 1, 'import', 0, 3), (2, 1, 1, 'assign', 0, 5), (3, 1, 1, 'accept', 0, 5),
               (4, 1, 1, 'assign', 1, 6);`);
    const change = v10.prepare(
      'INSERT INTO label_history (action_id, image_id, before_json, after_json) VALUES (?, ?, ?, ?)',
    );
    change.run(1, 2, null, state('label', 1, 'imported'));
    change.run(1, 3, null, state('label', 1, 'imported'));
    change.run(1, 4, null, state('label', 0, 'imported'));
    change.run(2, 1, null, state('label', 1, 'human'));
    // Image 2's imported label was replaced by accepting a prediction (what the old schema did).
    change.run(3, 2, state('label', 1, 'imported'), state('label', 0, 'accepted'));
    // An undone action's earlier state is not what the image has: nothing to restore from it.
    change.run(4, 1, state('label', 0, 'imported'), state('label', 1, 'human'));
    v10.close();

    const store = openStore(path);
    expect(store.schemaVersion()).toBe(migrations.length);
    expect([1, 2, 3, 4].map((id) => store.labels.get(id, 1)?.source ?? null)).toEqual([
      'human',
      'accepted',
      null,
      null,
    ]);
    expect(store.labels.get(1, 1)).toMatchObject({ decision: 'label', classOrdinal: 1, createdAt: 5 });
    expect(store.labels.get(2, 1)).toMatchObject({ classOrdinal: 0, runId: 1 });
    // Image 2's imported label, which the accept had replaced, comes back from the history.
    expect([1, 2, 3, 4].map((id) => store.importedLabels.get(id, 1)?.classOrdinal ?? null)).toEqual([
      null,
      1,
      1,
      0,
    ]);
    expect(store.importedLabels.get(3, 1)).toMatchObject({ importedAt: 3 });
    // The import action is gone (undo concerns decisions); the accept now undoes to no decision.
    const scope = { collectionId: 1, classSetId: 1 };
    expect(store.labels.recentActions(scope, 10).map((a) => [a.kind, a.imageCount, a.undone])).toEqual([
      ['assign', 1, true],
      ['accept', 1, false],
      ['assign', 1, false],
    ]);
    expect(store.labels.historyOfImage(2, 1)).toMatchObject([{ kind: 'accept', before: null }]);
    // Decisions only from now on: the table refuses the old source.
    expect(() =>
      store.db.exec(
        "INSERT INTO labels (image_id, class_set_id, decision, class_ordinal, source, created_at) VALUES (3, 1, 'label', 0, 'imported', 0)",
      ),
    ).toThrow(/CHECK constraint failed/);
    store.close();
  });

  it('rolls a failing migration back whole and keeps the old version', () => {
    const path = join(tempDir(), 'broken.db');
    const broken = [
      ...migrations,
      {
        version: migrations.length + 1,
        description: 'broken',
        sql: 'CREATE TABLE t3 (x); SELECT nope FROM nowhere;',
      },
    ];
    expect(() => openDatabase(path, { migrations: broken })).toThrow(/broken\.db.*nowhere/);
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(migrations.length);
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 't3'").pluck().get()).toBe(0);
    db.close();
  });

  it('refuses a database written by a newer version', () => {
    const path = join(tempDir(), 'future.db');
    const db = openDatabase(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => openStore(path)).toThrow(/schema version 99 is newer/);
  });
});

describe('float32 blobs', () => {
  it('round-trips values, including from an unaligned buffer', () => {
    const values = new Float32Array([1.5, -2.25, 3e-8, Infinity]);
    const blob = float32ToBlob(values);
    expect(blob.length).toBe(16);
    expect(blob.readFloatLE(4)).toBe(-2.25);
    const unaligned = Buffer.concat([Buffer.from([7]), blob]).subarray(1);
    expect(Array.from(blobToFloat32(unaligned))).toEqual(Array.from(values));
    expect(() => blobToFloat32(Buffer.alloc(5))).toThrow(/5 bytes/);
  });
});

describe('results', () => {
  it('writes a result with its views and prompt and closes the work item in one step', () => {
    const store = tempStore();
    const seeded = seedCollection(store, 3);
    const { imageIds } = seeded;
    const run = createCollectionRun(store, seeded, 'metatpt', { steps: 1 });
    expect(run.total).toBe(3);
    store.results.recordResult(run.id, imageIds[0], fakeResult(1, 4));
    const prediction = store.results.prediction(run.id, imageIds[0])!;
    expect(prediction.adapted).toBe(true);
    expect(prediction.confidence).toBeCloseTo(Math.max(...fakeResult(1).probs), 6);
    expect(store.results.views(run.id, imageIds[0]).map((v) => v.selected)).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(store.results.adaptedPrompt(run.id, imageIds[0])!.ctx.shape).toEqual([2, 3]);
    expect(store.runs.require(run.id)).toMatchObject({ done: 1, failed: 0 });

    // A second write for the same image is refused and changes nothing.
    expect(() => store.results.recordResult(run.id, imageIds[0], fakeResult(2))).toThrow(/no pending item/);
    expect(store.runs.require(run.id).done).toBe(1);
  });

  it('leaves nothing behind when a result is invalid', () => {
    const store = tempStore();
    const seeded = seedCollection(store, 1);
    const { imageIds } = seeded;
    const run = createCollectionRun(store, seeded, 'metatpt');
    const bad = fakeResult(1, 2);
    bad.views![1].theta = [1, 2, 3];
    expect(() => store.results.recordResult(run.id, imageIds[0], bad)).toThrow(/theta of 3 numbers/);
    expect(store.results.prediction(run.id, imageIds[0])).toBeUndefined();
    expect(store.runs.items(run.id)[0].state).toBe('pending');
    expect(store.runs.require(run.id).done).toBe(0);
  });

  it('selects uncertain images from an earlier run by zero-shot entropy', () => {
    const store = tempStore();
    const { collection, imageIds, classSet, model } = seedCollection(store, 6);
    const spec = { collectionId: collection.id, classSetId: classSet.id, modelId: model.id, params: {} };
    const base = store.runs.create({ ...spec, method: 'zeroshot', scope: { kind: 'collection' } });
    const entropies = imageIds.map((id, i) => {
      const result = fakeResult(i);
      store.results.recordResult(base.id, id, result);
      return result.zeroShotEntropy;
    });
    const threshold = [...entropies].sort((a, b) => a - b)[2];
    const uncertain = store.runs.create({
      ...spec,
      method: 'tpt',
      scope: { kind: 'uncertain', baseRunId: base.id, minZeroShotEntropy: threshold },
    });
    const expected = imageIds.filter((_, i) => entropies[i] > threshold);
    expect(expected.length).toBeGreaterThan(0);
    expect(store.runs.items(uncertain.id).map((item) => item.imageId)).toEqual(expected);
    expect(uncertain.total).toBe(expected.length);
  });
});

describe('class sets', () => {
  it('renames by position, refuses duplicates and refuses dropping classes that have labels', () => {
    const store = tempStore();
    const { collection, imageIds, classSet } = seedCollection(store, 1);
    const swapped = store.classSets.update(classSet.id, {
      classes: [{ name: 'dog' }, { name: 'cat', prompt: 'a photo of a small cat' }, { name: 'bird' }],
    });
    expect(swapped.classes.map((c) => c.name)).toEqual(['dog', 'cat', 'bird']);
    expect(swapped.classes[1].prompt).toBe('a photo of a small cat');
    expect(() => store.classSets.update(classSet.id, { classes: [{ name: 'a' }, { name: 'a' }] })).toThrow(
      /class 2 of the class set: duplicate class "a"/,
    );

    store.labels.apply({ collectionId: collection.id, classSetId: classSet.id }, 'set', [
      {
        imageId: imageIds[0],
        after: { decision: 'label', classOrdinal: 2, rejectedOrdinal: null, source: 'human', runId: null },
      },
    ]);
    expect(() =>
      store.classSets.update(classSet.id, { classes: [{ name: 'dog' }, { name: 'cat' }] }),
    ).toThrow(/1 labels use them/);
    expect(store.classSets.require(classSet.id).classes).toHaveLength(3);
  });
});
