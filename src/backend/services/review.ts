// Review: the expert's decisions. Every command is one undoable action in the label history, and
// every input is checked before anything is written.
import type { LabelAction, LabelChange, LabelState, Store } from '../store/index.js';
import { InvalidRequestError } from '../store/errors.js';

type Decision = LabelChange['after'];

export interface ReviewScope {
  collectionId: number;
  classSetId: number;
}

export function createReviewService({ store }: { store: Store }) {
  /** The collection of all images (which must share one), checking each exists. */
  function collectionOf(imageIds: number[]): number {
    if (imageIds.length === 0) throw new InvalidRequestError('no images selected');
    const collections = new Set(imageIds.map((id) => store.images.require(id).collectionId));
    if (collections.size > 1)
      throw new InvalidRequestError('the selected images belong to more than one collection');
    return [...collections][0];
  }

  function checkClass(classSetId: number, classOrdinal: number): void {
    const classSet = store.classSets.require(classSetId);
    if (!Number.isInteger(classOrdinal) || classOrdinal < 0 || classOrdinal >= classSet.classes.length) {
      throw new InvalidRequestError(
        `class ${classOrdinal} is not in class set "${classSet.name}" (0-${classSet.classes.length - 1})`,
      );
    }
  }

  const apply = (
    classSetId: number,
    kind: string,
    imageIds: number[],
    decide: (imageId: number) => Decision,
  ) => {
    const collectionId = collectionOf(imageIds);
    return store.labels.apply(
      { collectionId, classSetId },
      kind,
      imageIds.map((imageId) => ({ imageId, after: decide(imageId) })),
    );
  };

  /** The run's prediction for each image; an image the run has no result for is an error. */
  function predictionsOf(runId: number, imageIds: number[]) {
    const run = store.runs.require(runId);
    return {
      run,
      predicted: new Map(
        imageIds.map((imageId) => {
          const prediction = store.results.prediction(runId, imageId);
          if (!prediction)
            throw new InvalidRequestError(`run ${runId} has no prediction for image ${imageId}`);
          return [imageId, prediction.label];
        }),
      ),
    };
  }

  const human = (classOrdinal: number): Decision => ({
    decision: 'label',
    classOrdinal,
    rejectedOrdinal: null,
    source: 'human',
    runId: null,
  });

  return {
    /** Gives the images a class (one image, or a bulk assignment to a selection: one action). */
    assign(imageIds: number[], classSetId: number, classOrdinal: number): LabelAction | null {
      checkClass(classSetId, classOrdinal);
      return apply(classSetId, imageIds.length > 1 ? 'bulk-assign' : 'assign', imageIds, () =>
        human(classOrdinal),
      );
    },

    /** Takes the run's predicted class as the label of each image. */
    accept(imageIds: number[], runId: number): LabelAction | null {
      const { run, predicted } = predictionsOf(runId, imageIds);
      return apply(run.classSetId, 'accept', imageIds, (imageId) => ({
        decision: 'label',
        classOrdinal: predicted.get(imageId)!,
        rejectedOrdinal: null,
        source: 'accepted',
        runId,
      }));
    },

    /** Records that the run's predicted class is wrong, without saying what is right. */
    reject(imageIds: number[], runId: number): LabelAction | null {
      const { run, predicted } = predictionsOf(runId, imageIds);
      return apply(run.classSetId, 'reject', imageIds, (imageId) => ({
        decision: 'reject',
        classOrdinal: null,
        rejectedOrdinal: predicted.get(imageId)!,
        source: 'human',
        runId,
      }));
    },

    /** Marks images as looked at and left undecided (they still count as unreviewed). */
    skip(imageIds: number[], classSetId: number): LabelAction | null {
      store.classSets.require(classSetId);
      return apply(classSetId, 'skip', imageIds, () => ({
        decision: 'skip',
        classOrdinal: null,
        rejectedOrdinal: null,
        source: 'human',
        runId: null,
      }));
    },

    /** Removes the images' decisions. */
    clear(imageIds: number[], classSetId: number): LabelAction | null {
      store.classSets.require(classSetId);
      return apply(classSetId, 'clear', imageIds, () => null);
    },

    undo(scope: ReviewScope): LabelAction | null {
      return store.labels.undo(scope);
    },

    redo(scope: ReviewScope): LabelAction | null {
      return store.labels.redo(scope);
    },

    /** Recent actions, newest first; undone ones are the redo stack. */
    history(scope: ReviewScope, limit = 50): LabelAction[] {
      return store.labels.recentActions(scope, limit);
    },

    labelOf(imageId: number, classSetId: number): LabelState | null {
      return store.labels.get(imageId, classSetId) ?? null;
    },
  };
}

export type ReviewService = ReturnType<typeof createReviewService>;
