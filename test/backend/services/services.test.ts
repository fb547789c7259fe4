import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBrowseService } from '../../../src/backend/services/browse.js';
import { createClassSetsService, parseClassList } from '../../../src/backend/services/class-sets.js';
import { createCollectionsService } from '../../../src/backend/services/collections.js';
import { createReviewService } from '../../../src/backend/services/review.js';
import type { GridItem, Store } from '../../../src/backend/store/index.js';
import { makeImageFolder } from '../../../scripts/make-image-folder.js';
import { createCollectionRun, seedCollection, tempDir, tempStore } from '../helpers.js';
import { fakeResult } from '../fake-results.js';

describe('collections service', () => {
  it('adds a folder once however it is spelled, lists counts and removes it', async () => {
    const store = tempStore();
    const service = createCollectionsService({ store });
    const root = tempDir();
    await makeImageFolder({ out: root, count: 5, size: 16 });
    writeFileSync(join(root, 'bad.png'), 'nope');
    const { collection, scan } = await service.addFolder(root, { name: ' Field photos ' });
    expect(collection).toMatchObject({ name: 'Field photos', imageCounts: { ok: 5, error: 1, missing: 0 } });
    expect(scan).toMatchObject({ added: 6, errors: 1 });

    const alias = join(tempDir(), 'alias');
    symlinkSync(root, alias);
    const again = await service.addFolder(`${alias}/`);
    expect(again.collection.id).toBe(collection.id);
    expect(again.scan).toMatchObject({ added: 0, unchanged: 6 });
    expect(service.list().map((c) => c.id)).toEqual([collection.id]);

    await expect(service.addFolder(join(root, 'bad.png'))).rejects.toThrow(/not a folder/);
    await expect(service.addFolder(join(root, 'nowhere'))).rejects.toThrow(/cannot add .*nowhere/);

    await service.remove(collection.id);
    expect(service.list()).toEqual([]);
    expect(store.images.countByStatus(collection.id)).toEqual({ ok: 0, error: 0, missing: 0 });
  });
});

describe('class sets service', () => {
  it('creates with defaults and validates input', () => {
    const service = createClassSetsService({ store: tempStore() });
    const created = service.create({
      name: 'birds',
      classes: [{ name: ' heron ' }, { name: 'egret', prompt: 'a white egret' }],
    });
    expect(created).toMatchObject({ template: 'a photo of a {}.', contextInit: 'a photo of a' });
    expect(created.classes).toEqual([
      { ordinal: 0, name: 'heron', prompt: null },
      { ordinal: 1, name: 'egret', prompt: 'a white egret' },
    ]);
    expect(() => service.create({ name: 'birds', classes: [{ name: 'x' }] })).toThrow(/exists already/);
    expect(() => service.create({ name: 'b2', classes: [{ name: 'x' }], template: 'no slot' })).toThrow(
      /must contain \{\}/,
    );
    expect(() => service.create({ name: 'b3', classes: [{ name: ' ' }] })).toThrow(
      /class 1 has an empty name/,
    );
    expect(service.update(created.id, { template: 'a bird: {}' }).template).toBe('a bird: {}');
  });

  it('reads class lists from text, CSV and class folders', async () => {
    expect(parseClassList('\uFEFF# birds\nheron\n\n  egret  \r\n', 'classes.txt').entries).toEqual([
      { name: 'heron', prompt: null, line: 2 },
      { name: 'egret', prompt: null, line: 4 },
    ]);
    expect(parseClassList('Label,Prompt\nheron,"a heron, standing"\negret,\n', 'c.csv').entries).toEqual([
      { name: 'heron', prompt: 'a heron, standing', line: 2 },
      { name: 'egret', prompt: null, line: 3 },
    ]);
    expect(() => parseClassList('title\nx\n', 'c.csv')).toThrow(/c\.csv: the CSV has no "name" column/);

    const service = createClassSetsService({ store: tempStore() });
    const root = tempDir();
    for (const name of ['zebra', 'ant', '.cache']) mkdirSync(join(root, name));
    writeFileSync(join(root, 'readme.txt'), '');
    expect(await service.readClassFolders(root)).toEqual([
      { name: 'ant', prompt: null },
      { name: 'zebra', prompt: null },
    ]);
    const empty = join(root, 'empty.txt');
    writeFileSync(empty, '# nothing\n');
    await expect(service.readClassFile(empty)).rejects.toThrow(/no classes in the file/);
  });
});

/** A collection of `count` images with a finished run whose result for image i is fakeResult(i). */
function reviewedCollection(store: Store, count: number) {
  const seeded = seedCollection(store, count);
  const run = createCollectionRun(store, seeded, 'tpt');
  seeded.imageIds.forEach((id, i) =>
    store.results.recordResult(run.id, id, fakeResult(i, i % 2 === 0 ? 2 : 0)),
  );
  const scope = { collectionId: seeded.collection.id, classSetId: seeded.classSet.id };
  return { ...seeded, run, scope };
}

describe('review service', () => {
  it('assigns, accepts, rejects, skips and clears, each as an undoable action', () => {
    const store = tempStore();
    const { imageIds, classSet, run, scope } = reviewedCollection(store, 4);
    const review = createReviewService({ store });
    const [a, b, c] = imageIds;

    review.assign([a], classSet.id, 2);
    review.accept([b], run.id);
    review.reject([c], run.id);
    expect(review.labelOf(a, classSet.id)).toMatchObject({
      decision: 'label',
      classOrdinal: 2,
      source: 'human',
    });
    expect(review.labelOf(b, classSet.id)).toMatchObject({
      decision: 'label',
      classOrdinal: fakeResult(1).label,
      source: 'accepted',
      runId: run.id,
    });
    expect(review.labelOf(c, classSet.id)).toMatchObject({
      decision: 'reject',
      rejectedOrdinal: fakeResult(2).label,
    });

    review.skip([a], classSet.id);
    expect(review.labelOf(a, classSet.id)!.decision).toBe('skip');
    expect(review.undo(scope)!.kind).toBe('skip');
    expect(review.labelOf(a, classSet.id)).toMatchObject({ decision: 'label', classOrdinal: 2 });
    expect(review.redo(scope)!.kind).toBe('skip');
    expect(review.labelOf(a, classSet.id)!.decision).toBe('skip');
    review.clear([a], classSet.id);
    expect(review.labelOf(a, classSet.id)).toBeNull();
    expect(review.history(scope).map((action) => action.kind)).toEqual([
      'clear',
      'skip',
      'reject',
      'accept',
      'assign',
    ]);
  });

  it('undoes a bulk assignment as one action and drops the redo stack on a new decision', () => {
    const store = tempStore();
    const { imageIds, classSet, scope } = reviewedCollection(store, 5);
    const review = createReviewService({ store });
    review.assign([imageIds[0]], classSet.id, 0);
    const bulk = review.assign(imageIds, classSet.id, 1)!;
    expect(bulk).toMatchObject({ kind: 'bulk-assign', imageCount: 5 });
    expect(review.assign(imageIds, classSet.id, 1)).toBeNull(); // changes nothing

    review.undo(scope);
    expect(imageIds.map((id) => review.labelOf(id, classSet.id)?.classOrdinal ?? null)).toEqual([
      0,
      null,
      null,
      null,
      null,
    ]);
    review.undo(scope);
    expect(review.labelOf(imageIds[0], classSet.id)).toBeNull();
    expect(review.undo(scope)).toBeNull();

    review.redo(scope);
    review.assign([imageIds[4]], classSet.id, 2); // a new decision: the undone bulk assignment is gone for good
    expect(review.redo(scope)).toBeNull();
    expect(imageIds.map((id) => review.labelOf(id, classSet.id)?.classOrdinal ?? null)).toEqual([
      0,
      null,
      null,
      null,
      2,
    ]);
  });

  it('refuses bad input without writing anything', () => {
    const store = tempStore();
    const { imageIds, classSet, run, scope } = reviewedCollection(store, 2);
    const other = store.collections.create('/elsewhere', 'other');
    const stranger = store.images.insert(
      other.id,
      { relPath: 'x.png', size: 1, mtimeMs: 0, contentHash: 'h', width: 1, height: 1, error: null },
      Date.now(),
    );
    const review = createReviewService({ store });
    expect(() => review.assign([imageIds[0]], classSet.id, 3)).toThrow(
      /class 3 is not in class set "animals" \(0-2\)/,
    );
    expect(() => review.assign([imageIds[0], stranger], classSet.id, 0)).toThrow(/more than one collection/);
    expect(() => review.assign([imageIds[0], 9999], classSet.id, 0)).toThrow(/image 9999 does not exist/);
    expect(() => review.accept([stranger], run.id)).toThrow(/no prediction for image/);
    expect(() => review.assign([], classSet.id, 0)).toThrow(/no images selected/);
    expect(review.history(scope)).toEqual([]);
  });
});

describe('browse service', () => {
  function setup() {
    const store = tempStore();
    const seeded = reviewedCollection(store, 30);
    const review = createReviewService({ store });
    const browse = createBrowseService({ store });
    // An image without a result: it must still be listed, and sort last.
    const extra = store.images.insert(
      seeded.collection.id,
      { relPath: 'zz-new.png', size: 1, mtimeMs: 0, contentHash: 'new', width: 8, height: 8, error: null },
      Date.now(),
    );
    return { store, review, browse, extra, ...seeded };
  }

  const expectedResults = (count: number) =>
    Array.from({ length: count }, (_, i) => fakeResult(i, i % 2 === 0 ? 2 : 0));

  it('filters by predicted class, confidence, entropy and disagreement, and sorts with missing results last', () => {
    const { browse, collection, run, imageIds, extra } = setup();
    const results = expectedResults(30);
    const ids = (items: GridItem[]) => items.map((item) => item.imageId);
    const pick = (keep: (r: (typeof results)[number]) => boolean) =>
      imageIds.filter((_, i) => keep(results[i]));

    const byClass = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      predictedClass: 1,
      limit: 100,
    });
    expect(ids(byClass.items)).toEqual(pick((r) => r.label === 1));
    expect(byClass.total).toBeGreaterThan(0);
    expect(byClass.total).toBeLessThan(30);
    expect(byClass.total).toBe(byClass.items.length);

    const confident = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      confidence: { min: 0.5, max: 0.8 },
      limit: 100,
    });
    expect(confident.total).toBeGreaterThan(0);
    expect(ids(confident.items)).toEqual(
      pick((r) => Math.fround(Math.max(...r.probs)) >= 0.5 && Math.fround(Math.max(...r.probs)) <= 0.8),
    );

    const disagree = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      disagreement: true,
      limit: 100,
    });
    const agrees = (r: (typeof results)[number]) =>
      r.label === r.zeroShotProbs.indexOf(Math.max(...r.zeroShotProbs));
    expect(ids(disagree.items)).toEqual(pick((r) => !agrees(r)));
    expect(disagree.total).toBe(20);
    const agree = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      disagreement: false,
      limit: 100,
    });
    expect(ids(agree.items)).toEqual(pick(agrees));

    const sorted = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      sort: { key: 'entropy', direction: 'desc' },
      limit: 100,
    });
    const entropies = sorted.items.map((item) => item.entropy);
    expect(entropies.at(-1)).toBeNull();
    expect(sorted.items.at(-1)!.imageId).toBe(extra);
    const known = entropies.slice(0, -1) as number[];
    expect(known).toEqual([...known].sort((x, y) => y - x));

    const page = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      sort: { key: 'entropy', direction: 'desc' },
      offset: 10,
      limit: 5,
    });
    expect(page.total).toBe(31);
    expect(ids(page.items)).toEqual(ids(sorted.items.slice(10, 15)));

    // A page across the end of the images with results continues with those without, in id order.
    const ascending = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      sort: { key: 'confidence' },
      limit: 100,
    });
    const tail = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      sort: { key: 'confidence' },
      offset: 28,
      limit: 5,
    });
    expect(ids(tail.items)).toEqual(ids(ascending.items.slice(28)));
    expect(tail.items.map((item) => item.imageId).at(-1)).toBe(extra);
    expect(tail.items).toHaveLength(3);

    const uncertain = browse.grid({
      collectionId: collection.id,
      runId: run.id,
      entropy: { min: 0.9 },
      limit: 100,
    });
    expect(uncertain.items.every((item) => item.entropy! >= 0.9)).toBe(true);
    expect(uncertain.total).toBe(results.filter((r) => Math.fround(r.entropy) >= 0.9).length);
  });

  it('filters by review state and label', () => {
    const { browse, review, collection, run, imageIds, classSet, extra } = setup();
    review.assign(imageIds.slice(0, 3), classSet.id, 2);
    review.reject([imageIds[3]], run.id);
    review.skip([imageIds[4]], classSet.id);
    const count = (q: object) => browse.grid({ collectionId: collection.id, runId: run.id, ...q }).total;
    expect(count({ reviewState: 'labeled' })).toBe(3);
    expect(count({ reviewState: 'reviewed' })).toBe(4);
    expect(count({ reviewState: 'skipped' })).toBe(1);
    expect(count({ reviewState: 'unreviewed' })).toBe(31 - 4);
    expect(count({ labelClass: 2 })).toBe(3);
    const first = browse.grid({ collectionId: collection.id, runId: run.id, sort: { key: 'path' }, limit: 1 })
      .items[0];
    expect(first).toMatchObject({
      imageId: imageIds[0],
      decision: 'label',
      labelClass: 2,
      labelSource: 'human',
    });
    expect(
      browse.grid({ collectionId: collection.id, sort: { key: 'path', direction: 'desc' }, limit: 1 })
        .items[0].imageId,
    ).toBe(extra);
  });

  it('gives everything about one image', () => {
    const { browse, review, run, imageIds, classSet } = setup();
    review.accept([imageIds[0]], run.id);
    review.assign([imageIds[0]], classSet.id, 1);
    const detail = browse.imageDetail(imageIds[0]);
    expect(detail.absPath).toBe('/data/photos/img-000000.png');
    expect(detail.results).toHaveLength(1);
    expect(detail.results[0].run).toMatchObject({ id: run.id, method: 'tpt' });
    expect(detail.results[0].views).toHaveLength(2);
    expect(detail.results[0].adaptedPrompt!.nearestTokens).toEqual([['a'], ['photo']]);
    expect(detail.labels).toHaveLength(1);
    expect(detail.labels[0].label).toMatchObject({ classOrdinal: 1, source: 'human' });
    expect(
      detail.labels[0].history.map((h) => [h.kind, h.before?.classOrdinal ?? null, h.after?.classOrdinal]),
    ).toEqual([
      ['accept', null, fakeResult(0).label],
      ['assign', fakeResult(0).label, 1],
    ]);
    expect(() => browse.imageDetail(424242)).toThrow(/image 424242 does not exist/);
  });
});

describe('grid input', () => {
  it('refuses malformed paging, ranges and sort keys with a clear error', () => {
    const store = tempStore();
    const { collection } = seedCollection(store, 2);
    const browse = createBrowseService({ store });
    const query = { collectionId: collection.id };
    expect(() => browse.grid({ ...query, limit: 0 })).toThrow(
      /grid limit must be a whole number from 1 to 1000, not 0/,
    );
    expect(() => browse.grid({ ...query, offset: Number.NaN })).toThrow(/grid offset must be a whole number/);
    expect(() => browse.grid({ ...query, entropy: { min: Number.NaN } })).toThrow(
      /grid entropy min must be a number/,
    );
    expect(() => browse.grid({ ...query, sort: { key: 'constructor' as 'path' } })).toThrow(
      /cannot sort the grid by/,
    );
    expect(() => browse.grid({ ...query, statuses: ["ok') OR 1=1 --" as 'ok'] })).toThrow(
      /unknown image status/,
    );
    expect(() => browse.grid({ collectionId: 999 })).toThrow(/collection 999 does not exist/);
    expect(browse.grid({ ...query, limit: 1, offset: 1 }).items).toHaveLength(1);
  });
});
