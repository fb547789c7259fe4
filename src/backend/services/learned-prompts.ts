// Learning a class set's prompt from its reviewed labels (CoOp or Self-TPT) and keeping it as a
// versioned learned prompt. Cached image features are used; labelled images without them are encoded
// once (and cached). One learning job per class set at a time; it can be cancelled.
import type { LearnProgress } from '../../shared/domain/learned-prompts.js';
import { runSpecOf } from '../jobs/executor.js';
import { toAbsolute } from '../library/files.js';
import type { LearnWith } from '../run-processors.js';
import {
  InvalidRequestError,
  type LearnedPromptMethod,
  type LearnedPromptSummary,
  type Store,
} from '../store/index.js';
import { summarize } from '../store/learned-prompts.js';

export interface LearnInput {
  classSetId: number;
  modelId: number;
  method: LearnedPromptMethod;
  /** Learning settings (src/engine/adapt/learn.ts learnSettingsSchema); defaults where absent. */
  settings?: Record<string, unknown>;
}

/** Fewest labels a prompt is learned from: one per class would leave nothing to validate on. */
export const MIN_LABELS = 2;

export function createLearnedPromptsService({ store, learn }: { store: Store; learn: LearnWith }) {
  const running = new Map<number, AbortController>();

  return {
    /**
     * Learns a prompt from every image reviewed in the class set (any collection; not imported labels) and stores it as the
     * class set's next version. Throws when there are too few labels or the class set is already
     * learning; rejects with the abort reason when cancelled.
     */
    async learn(
      input: LearnInput,
      onProgress?: (progress: LearnProgress) => void,
    ): Promise<LearnedPromptSummary> {
      const { classSetId, modelId, method } = input;
      const classSet = store.classSets.require(classSetId);
      if (running.has(classSetId))
        throw new InvalidRequestError(`class set "${classSet.name}" is already learning a prompt`);
      const labelled = store.learnedPrompts.labelledImages(classSetId, modelId);
      if (labelled.length < MIN_LABELS) {
        throw new InvalidRequestError(
          `class set "${classSet.name}" has ${labelled.length} reviewed images; learning a prompt needs at least ${MIN_LABELS} (imported labels are not learned from)`,
        );
      }
      const controller = new AbortController();
      running.set(classSetId, controller);
      try {
        const spec = runSpecOf(store, { modelId, classSetId });
        const result = await learn(
          spec,
          {
            method,
            settings: input.settings ?? {},
            items: labelled.map((l) => ({
              path: toAbsolute(l.root, l.relPath),
              features: l.features,
              label: l.classOrdinal,
            })),
          },
          controller.signal,
          onProgress,
        );
        const heldOut = new Set(result.heldOut);
        const stored = store.transaction(() => {
          for (const { item, features } of result.encoded)
            store.imageFeatures.put(modelId, labelled[item].imageId, features);
          return store.learnedPrompts.add({
            classSetId,
            modelId,
            method,
            template: classSet.template,
            classNames: classSet.classes.map((c) => c.name),
            ctx: result.ctx,
            nCtx: result.nearestTokens.length,
            selfTpt: result.selfTpt && {
              sourceCtx: result.selfTpt.sourceCtx,
              head: result.selfTpt.head,
            },
            settings: result.settings,
            labels: labelled.map((l, i) => ({
              imageId: l.imageId,
              classOrdinal: l.classOrdinal,
              heldOut: heldOut.has(i),
            })),
            accuracy: result.accuracy,
            history: result.history,
            nearestTokens: result.nearestTokens,
          });
        });
        return summarize(stored);
      } finally {
        running.delete(classSetId);
      }
    },
    /** Stops the class set's learning job, if one runs; returns whether one did. */
    cancel(classSetId: number): boolean {
      const controller = running.get(classSetId);
      controller?.abort(new Error('learning cancelled'));
      return Boolean(controller);
    },
    list: (classSetId: number): LearnedPromptSummary[] => store.learnedPrompts.ofClassSet(classSetId),
    /** How many reviewed images learning would use now (for "Learn from N reviewed labels"). */
    labelCount: (classSetId: number, modelId: number): number =>
      store.learnedPrompts.labelledImages(classSetId, modelId).length,
  };
}

export type LearnedPromptsService = ReturnType<typeof createLearnedPromptsService>;
