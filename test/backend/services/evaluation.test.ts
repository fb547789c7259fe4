import { describe, expect, it } from 'vitest';
import { evaluateRun } from '../../../src/backend/services/evaluation.js';
import { createReviewService } from '../../../src/backend/services/review.js';
import { wilsonInterval } from '../../../src/shared/domain/evaluation.js';
import { EVALUATION_CASES, recordEvaluatedRuns, seedEvaluatedRuns } from './evaluation-fixture.js';
import { seedCollection, tempStore } from '../helpers.js';

describe('evaluateRun', () => {
  it('compares a run with the zero-shot predictions its results store, on every labelled image', () => {
    const store = tempStore();
    const { tpt } = seedEvaluatedRuns(store);
    const evaluation = evaluateRun(store, tpt.id);
    expect(evaluation).toMatchObject({ runId: tpt.id, method: 'tpt', against: 'all' });
    // Six results; the rejected image names no class, so five are compared, all adapted.
    expect(evaluation).toMatchObject({ results: 6, labelled: 5, adapted: 5 });
    const c = evaluation.comparison!;
    // Right: images 0, 1, 2 (run), 0 and 3 (zero-shot); fixed 1 and 2, broken 3: 2·P(X ≤ 1 | 3) = 1.
    expect(c).toMatchObject({ n: 5, fixed: 2, broken: 1, mcnemarP: 1, eceBins: 15 });
    expect(c.run).toMatchObject({ correct: 3, accuracy: 0.6, accuracyCi: wilsonInterval(3, 5) });
    expect(c.baseline).toMatchObject({ correct: 2, accuracy: 0.4, accuracyCi: wilsonInterval(2, 5) });
    // Each confidence has its own bin: mean |correct − confidence|.
    // Run: (0.1 + 0.2 + 0.3 + 0.6 + 0.5)/5; zero-shot: (0.05 + 0.85 + 0.75 + 0.35 + 0.55)/5.
    expect(c.run.ece).toBeCloseTo(0.34, 6);
    expect(c.baseline.ece).toBeCloseTo(0.51, 6);
    // Totals 110, 211, 312, 413, 514, 615 ms; encoding 10..15 ms.
    expect(evaluation.time).toEqual({ timedImages: 6, msPerImage: 362.5, zeroShotMsPerImage: 12.5 });
  });

  it('leaves out the images a learned prompt was trained on, and keeps those it held out', () => {
    const store = tempStore();
    const seeded = seedCollection(store, EVALUATION_CASES.length);
    const prompt = store.learnedPrompts.add({
      classSetId: seeded.classSet.id,
      modelId: seeded.model.id,
      method: 'coop',
      template: seeded.classSet.template,
      classNames: seeded.classSet.classes.map((c) => c.name),
      ctx: new Float32Array(8),
      nCtx: 2,
      selfTpt: null,
      settings: {},
      // Trained on images 0 and 1; image 2 held out for validation.
      labels: [0, 1, 2].map((i) => ({ imageId: seeded.imageIds[i], classOrdinal: i, heldOut: i === 2 })),
      accuracy: { trainBefore: 0, trainAfter: 1, validationBefore: 0, validationAfter: 1 },
      history: [],
      nearestTokens: [[], []],
    });
    const { tpt } = recordEvaluatedRuns(store, seeded, { learnedPrompt: prompt.id });
    const evaluation = evaluateRun(store, tpt.id);
    // Five labelled images, two of them trained on: images 2 (fixed), 3 (broken), 4 (both wrong).
    expect(evaluation).toMatchObject({ labelled: 3, trainedOn: 2 });
    expect(evaluation.comparison).toMatchObject({ n: 3, fixed: 1, broken: 1 });
    expect(evaluation.comparison!.run.correct).toBe(1);
    // The library's fixed filter judges the same images: image 1 (fixed) was trained on.
    const fixed = store.grid.query({
      collectionId: seeded.collection.id,
      runId: tpt.id,
      versusZeroShot: { outcome: 'fixed' },
    });
    expect(fixed.items.map((i) => i.imageId)).toEqual([seeded.imageIds[2]]);
    // Without a learned prompt nothing is left out.
    const plain = tempStore();
    expect(evaluateRun(plain, seedEvaluatedRuns(plain).tpt.id).trainedOn).toBe(0);
  });

  it('takes the imported or the reviewed labels alone when asked', () => {
    const store = tempStore();
    const { tpt } = seedEvaluatedRuns(store);
    const imported = evaluateRun(store, tpt.id, 'imported');
    // Images 0-2: run 3 of 3, zero-shot 1 of 3; 2 fixed, 0 broken: 2·(1/2)² = 0.5.
    expect(imported).toMatchObject({ labelled: 3, comparison: { fixed: 2, broken: 0, mcnemarP: 0.5 } });
    expect(imported.comparison!.run.accuracy).toBe(1);
    expect(imported.comparison!.baseline.accuracy).toBeCloseTo(1 / 3, 12);
    // Images 3 (by hand) and 4 (accepted): run 0 of 2, zero-shot 1 of 2.
    const reviewed = evaluateRun(store, tpt.id, 'reviewed');
    expect(reviewed).toMatchObject({ labelled: 2, comparison: { fixed: 0, broken: 1, mcnemarP: 1 } });
    expect(reviewed.comparison!.run.accuracy).toBe(0);
  });

  it("keeps an imported label when the expert decides: 'all' takes his label, 'imported' the file's", () => {
    const store = tempStore();
    const { tpt, zeroShot, collection, classSet, imageIds } = seedEvaluatedRuns(store);
    const review = createReviewService({ store });
    const scope = { collectionId: collection.id, classSetId: classSet.id };
    const toReview = () =>
      store.grid
        .query({ collectionId: collection.id, runId: tpt.id, reviewState: 'unreviewed' })
        .items.map((i) => i.imageId);
    // Images 0-2 carry only an imported label: still to review.
    expect(toReview()).toEqual([imageIds[0], imageIds[1], imageIds[2]]);
    // Image 1 (imported 1): the expert accepts the zero-shot prediction, 0.
    review.accept([imageIds[1]], zeroShot.id);
    expect(toReview()).toEqual([imageIds[0], imageIds[2]]);
    expect(store.importedLabels.get(imageIds[1], classSet.id)).toMatchObject({ classOrdinal: 1 });
    expect(store.labels.get(imageIds[1], classSet.id)).toMatchObject({ classOrdinal: 0, source: 'accepted' });
    // Imported labels are untouched: still 3 of 3, the run right on all.
    const imported = evaluateRun(store, tpt.id, 'imported');
    expect(imported).toMatchObject({ labelled: 3, comparison: { fixed: 2, broken: 0 } });
    expect(imported.comparison!.run.accuracy).toBe(1);
    expect(evaluateRun(store, tpt.id, 'reviewed')).toMatchObject({ labelled: 3 });
    // All: image 1's truth is now the expert's 0 (run 1 wrong, zero-shot 0 right): run right on 0 and
    // 2, zero-shot on 0, 1 and 3; fixed 2, broken 1 and 3.
    const all = evaluateRun(store, tpt.id, 'all');
    expect(all).toMatchObject({ labelled: 5, comparison: { fixed: 1, broken: 2 } });
    expect(all.comparison!.run.correct).toBe(2);
    expect(all.comparison!.baseline.correct).toBe(3);
    // Undo concerns the decision only: the imported label stays, the image is to review again.
    expect(review.undo(scope)).toMatchObject({ kind: 'accept' });
    expect(store.labels.get(imageIds[1], classSet.id)).toBeUndefined();
    expect(store.importedLabels.get(imageIds[1], classSet.id)).toMatchObject({ classOrdinal: 1 });
    expect(toReview()).toEqual([imageIds[0], imageIds[1], imageIds[2]]);
  });

  it('finds nothing fixed or broken in a zero-shot run, and says when there is nothing to compare', () => {
    const store = tempStore();
    const { zeroShot, collection, classSet, model } = seedEvaluatedRuns(store);
    const evaluation = evaluateRun(store, zeroShot.id);
    expect(evaluation).toMatchObject({ labelled: 5, adapted: 0 });
    expect(evaluation.comparison).toMatchObject({ fixed: 0, broken: 0, mcnemarP: 1 });
    expect(evaluation.comparison!.run).toEqual(evaluation.comparison!.baseline);
    expect(evaluation.time).toEqual({ timedImages: 6, msPerImage: 12.5, zeroShotMsPerImage: 12.5 });

    const empty = store.runs.create({
      collectionId: collection.id,
      classSetId: classSet.id,
      modelId: model.id,
      method: 'tpt',
      params: {},
      scope: { kind: 'collection' },
    });
    expect(evaluateRun(store, empty.id)).toMatchObject({
      results: 0,
      labelled: 0,
      comparison: null,
      time: null,
    });
    expect(() => evaluateRun(store, 99)).toThrow(/run 99 does not exist/);
  });
});

describe('grid filter versusZeroShot', () => {
  it('lists exactly the images the run fixed or broke, by the labels asked for', () => {
    const store = tempStore();
    const { collection, tpt, zeroShot, imageIds } = seedEvaluatedRuns(store);
    const ids = (
      runId: number,
      versusZeroShot: { outcome: 'fixed' | 'broken'; against?: 'reviewed' | 'imported' },
    ) => store.grid.query({ collectionId: collection.id, runId, versusZeroShot }).items.map((i) => i.imageId);
    expect(ids(tpt.id, { outcome: 'fixed' })).toEqual([imageIds[1], imageIds[2]]);
    expect(ids(tpt.id, { outcome: 'broken' })).toEqual([imageIds[3]]);
    expect(ids(tpt.id, { outcome: 'fixed', against: 'reviewed' })).toEqual([]);
    expect(ids(tpt.id, { outcome: 'broken', against: 'reviewed' })).toEqual([imageIds[3]]);
    expect(ids(tpt.id, { outcome: 'fixed', against: 'imported' })).toEqual([imageIds[1], imageIds[2]]);
    expect(ids(zeroShot.id, { outcome: 'fixed' })).toEqual([]);
    expect(
      store.grid.query({ collectionId: collection.id, runId: tpt.id, versusZeroShot: { outcome: 'fixed' } })
        .total,
    ).toBe(2);
    expect(() =>
      store.grid.query({ collectionId: collection.id, versusZeroShot: { outcome: 'broken' } }),
    ).toThrow(/broken filter needs a run/);
  });
});
