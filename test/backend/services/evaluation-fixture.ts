// A run with hand-chosen predictions and labels, whose evaluation the tests compute by hand.
import type { ImageResult } from '../../../src/backend/store/index.js';
import type { LabelState, Store } from '../../../src/backend/store/index.js';
import { createCollectionRun, seedCollection, type SeededRows } from '../helpers.js';

/** Probabilities over three classes with `confidence` on `label` and the rest split evenly. */
function probs(label: number, confidence: number): Float32Array {
  const p = new Float32Array(3).fill((1 - confidence) / 2);
  p[label] = confidence;
  return p;
}

/**
 * Per image: the label (and its source), the zero-shot and the adapted prediction with confidences.
 *   0: truth 0, zero-shot 0 (0.95), run 0 (0.9)  both right          imported
 *   1: truth 1, zero-shot 0 (0.85), run 1 (0.8)  fixed               imported
 *   2: truth 2, zero-shot 0 (0.75), run 2 (0.7)  fixed               imported
 *   3: truth 0, zero-shot 0 (0.65), run 1 (0.6)  broken              reviewed (by hand)
 *   4: truth 1, zero-shot 2 (0.55), run 2 (0.5)  both wrong          reviewed (accepted)
 *   5: rejected, which names no class: not evaluated
 * Timings: image i spends 10 + i ms encoding the original and 100·(i + 1) ms tuning.
 */
export const EVALUATION_CASES = [
  { truth: 0, source: 'imported', zeroShot: [0, 0.95], run: [0, 0.9] },
  { truth: 1, source: 'imported', zeroShot: [0, 0.85], run: [1, 0.8] },
  { truth: 2, source: 'imported', zeroShot: [0, 0.75], run: [2, 0.7] },
  { truth: 0, source: 'human', zeroShot: [0, 0.65], run: [1, 0.6] },
  { truth: 1, source: 'accepted', zeroShot: [2, 0.55], run: [2, 0.5] },
  { truth: null, source: 'human', zeroShot: [1, 0.45], run: [1, 0.45] },
] as const;

/** A TPT run and a zero-shot run over six seeded image rows, labelled as in EVALUATION_CASES. */
export function seedEvaluatedRuns(store: Store) {
  return recordEvaluatedRuns(store, seedCollection(store, EVALUATION_CASES.length));
}

/**
 * The runs and labels of EVALUATION_CASES over a collection's first six images (imageIds, in order);
 * `tptParams` are the TPT run's settings.
 */
export function recordEvaluatedRuns<T extends SeededRows & { imageIds: number[] }>(
  store: Store,
  seeded: T,
  tptParams: Record<string, unknown> = {},
) {
  const { collection, classSet, imageIds } = seeded;
  const tpt = createCollectionRun(store, seeded, 'tpt', tptParams);
  const zeroShot = createCollectionRun(store, seeded, 'zeroshot');
  EVALUATION_CASES.forEach((c, i) => {
    const zeroShotProbs = probs(c.zeroShot[0], c.zeroShot[1]);
    const result = (label: number, p: Float32Array, adapted: boolean): ImageResult => ({
      label,
      probs: p,
      zeroShotProbs,
      entropy: 1,
      zeroShotEntropy: 1,
      adapted,
      timings: { encodeOriginal: 10 + i, ...(adapted && { tunePrompt: 100 * (i + 1) }) },
    });
    store.results.recordResult(tpt.id, imageIds[i], result(c.run[0], probs(c.run[0], c.run[1]), true));
    store.results.recordResult(zeroShot.id, imageIds[i], result(c.zeroShot[0], zeroShotProbs, false));
  });
  const decided = EVALUATION_CASES.flatMap((c, i) => {
    if (c.source === 'imported') return [];
    const after: Omit<LabelState, 'createdAt'> =
      c.truth === null
        ? { decision: 'reject', classOrdinal: null, rejectedOrdinal: 1, source: c.source, runId: tpt.id }
        : { decision: 'label', classOrdinal: c.truth, rejectedOrdinal: null, source: c.source, runId: null };
    return [{ imageId: imageIds[i], after }];
  });
  store.labels.apply({ collectionId: collection.id, classSetId: classSet.id }, 'review', decided);
  store.importedLabels.replace(
    classSet.id,
    EVALUATION_CASES.flatMap((c, i) =>
      c.source === 'imported' ? [{ imageId: imageIds[i], classOrdinal: c.truth }] : [],
    ),
  );
  return { ...seeded, tpt, zeroShot };
}
