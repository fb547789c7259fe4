// The grid query builder (pure: query in, SQL out) and its explicit hasPrediction filter, checked both
// as SQL and against a store.
import { describe, expect, it } from 'vitest';
import { buildGridQuery } from '../../../src/backend/store/grid.js';
import { InvalidRequestError } from '../../../src/backend/store/index.js';
import { createCollectionRun, seedCollection, tempStore } from '../helpers.js';
import { fakeResult } from '../fake-results.js';

const run = { runClassSetId: 7, layers: [] };

describe('buildGridQuery', () => {
  it('joins predictions only where a filter or the sort needs them', () => {
    const plain = buildGridQuery({ collectionId: 1 }, { layers: [] });
    expect(plain.count).not.toContain('predictions');
    expect(plain.count).not.toContain('labels');
    expect(plain.page).toContain('LEFT JOIN predictions p');
    expect(plain.rest).toBeUndefined();
    expect(plain.params).toMatchObject({ collectionId: 1, classSetId: -1 });
  });

  it('hasPrediction: true keeps the images with a prediction of the run (an inner join)', () => {
    const plan = buildGridQuery({ collectionId: 1, runId: 3, hasPrediction: true }, run);
    expect(plan.count).toMatch(/FROM images i JOIN predictions p ON p.run_id = @runId/);
    expect(plan.page).toMatch(/ JOIN predictions p /);
    expect(plan.page).not.toContain('LEFT JOIN predictions');
    expect(plan.params).toMatchObject({ runId: 3, classSetId: 7 });
  });

  it('hasPrediction: false keeps the images without one, and sorts them by id', () => {
    const plan = buildGridQuery(
      { collectionId: 1, runId: 3, hasPrediction: false, sort: { key: 'entropy', direction: 'desc' } },
      run,
    );
    expect(plan.count).toContain('NOT EXISTS (SELECT 1 FROM predictions x WHERE x.run_id = @runId');
    expect(plan.page).toMatch(/ORDER BY i\.id LIMIT/);
  });

  it('in a layered view, a prediction of any layer counts', () => {
    const plan = buildGridQuery(
      { collectionId: 1, runId: 3, layered: true, hasPrediction: false },
      {
        runClassSetId: 7,
        layers: [4, 5],
      },
    );
    expect(plan.params.runIds).toBe('[3,4,5]');
    expect(plan.count).toContain('json_each(@runIds)');
  });

  it('sorting a run by a prediction column pages the predicted images first, then the rest', () => {
    const plan = buildGridQuery({ collectionId: 1, runId: 3, sort: { key: 'confidence' } }, run);
    expect(plan.page).toMatch(/JOIN predictions p .* ORDER BY p\.confidence ASC, i\.id ASC/);
    expect(plan.rest?.page).toContain('NOT EXISTS');
    expect(plan.rest?.before).toMatch(/^SELECT COUNT\(\*\) AS n FROM images i JOIN predictions p/);
  });

  it('says what is wrong with a query it cannot answer', () => {
    const bad: [Parameters<typeof buildGridQuery>[0], RegExp][] = [
      [{ collectionId: 1, hasPrediction: true }, /hasPrediction filter needs a run/],
      [{ collectionId: 1, runId: 3, hasPrediction: false, confidence: { min: 0.5 } }, /leaves no prediction/],
      [{ collectionId: 1, versusZeroShot: { outcome: 'fixed' } }, /fixed filter needs a run/],
      [{ collectionId: 1, limit: 5000 }, /limit must be a whole number from 1 to 1000/],
      [{ collectionId: 1, confidence: { min: Number.NaN } }, /confidence min must be a number/],
    ];
    for (const [query, message] of bad) {
      expect(() => buildGridQuery(query, query.runId ? run : { layers: [] })).toThrow(InvalidRequestError);
      expect(() => buildGridQuery(query, query.runId ? run : { layers: [] })).toThrow(message);
    }
  });
});

describe('the grid with hasPrediction', () => {
  it('splits a collection into the images a run predicted and the rest', () => {
    const store = tempStore();
    const seeded = seedCollection(store, 5);
    const zeroShot = createCollectionRun(store, seeded, 'zeroshot');
    for (const imageId of seeded.imageIds.slice(0, 2))
      store.results.recordResult(zeroShot.id, imageId, fakeResult(imageId, 0));
    const query = { collectionId: seeded.collection.id, runId: zeroShot.id };
    const withPrediction = store.grid.query({ ...query, hasPrediction: true });
    const without = store.grid.query({ ...query, hasPrediction: false });
    expect(withPrediction.items.map((i) => i.imageId)).toEqual(seeded.imageIds.slice(0, 2));
    expect(withPrediction.items.every((i) => i.predicted !== null)).toBe(true);
    expect(without.items.map((i) => i.imageId)).toEqual(seeded.imageIds.slice(2));
    expect(without.items.every((i) => i.predicted === null)).toBe(true);
    expect(store.grid.query(query).total).toBe(withPrediction.total + without.total);
  });
});
