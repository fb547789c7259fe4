// Runs: start classification/adaptation over a collection, a selection or its uncertain images, and
// control them. Execution is the RunExecutor's; this is the validated front of it.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { runSpec, type RunExecutor } from '../jobs/executor.js';
import type { ZeroShotTextOf } from '../jobs/types.js';
import { ADAPT_METHODS, type AdaptMethod } from '../../shared/domain/adaptation.js';
import type { RunParams, RunScope } from '../../shared/domain/runs.js';
import type { Run, RunItem, RunItemState, Store } from '../store/index.js';
import { zeroShotResult } from './zero-shot-scores.js';

export interface StartRunInput {
  collectionId: number;
  classSetId: number;
  modelId: number;
  method: AdaptMethod;
  params?: RunParams;
  scope: RunScope;
}

export type RescoreInput = Pick<StartRunInput, 'collectionId' | 'classSetId' | 'modelId'>;

const methods: ReadonlySet<string> = new Set(ADAPT_METHODS);

/** Images re-scored per transaction; between batches the event loop serves other requests. */
const RESCORE_BATCH = 2048;

export function createRunsService({
  store,
  executor,
  zeroShotText,
}: {
  store: Store;
  executor: RunExecutor;
  /** A class set's text features under a model, for re-scoring from cached image features. */
  zeroShotText: ZeroShotTextOf;
}) {
  function create(input: StartRunInput): Run {
    if (!methods.has(input.method)) throw new Error(`unknown method "${input.method}"`);
    store.collections.require(input.collectionId);
    store.classSets.require(input.classSetId);
    if (!store.models.get(input.modelId)) throw new Error(`model ${input.modelId} is not registered`);
    return store.runs.create({ ...input, params: input.params ?? {} });
  }

  /** Finishes a run with nothing left to do, or queues it for the executor. */
  function queueRest(runId: number): Run {
    const run = store.runs.require(runId);
    if (run.done + run.failed === run.total) store.runs.setStatus(runId, 'done');
    else executor.enqueue(runId);
    return store.runs.require(runId);
  }

  return {
    /** Creates the run with one work item per image in scope and queues it. */
    start: (input: StartRunInput): Run => queueRest(create(input).id),
    /**
     * A zero-shot run over the collection whose images with cached features (under the model) are
     * scored at once from those features and the class set's current prompts; the other images are
     * queued for the engine as in any run.
     */
    async rescore(input: RescoreInput): Promise<Run> {
      const run = create({ ...input, method: 'zeroshot', scope: { kind: 'collection' } });
      try {
        const text = await zeroShotText(runSpec(store, run.id));
        for (let page = store.imageFeatures.pendingWithFeatures(run.id, 0, RESCORE_BATCH); page.length > 0;) {
          store.results.recordResults(
            run.id,
            page.map(({ imageId, features }) => ({ imageId, result: zeroShotResult(features, text) })),
          );
          await nextTurn();
          page = store.imageFeatures.pendingWithFeatures(
            run.id,
            page[page.length - 1].imageId,
            RESCORE_BATCH,
          );
        }
      } catch (error) {
        store.runs.setStatus(run.id, 'failed', { error: `re-scoring stopped: ${(error as Error).message}` });
        throw error;
      }
      return queueRest(run.id);
    },
    pause: (runId: number) => executor.pause(runId),
    resume: (runId: number) => executor.resume(runId),
    cancel: (runId: number) => executor.cancel(runId),
    /** Puts a finished run's failed images back in its queue and runs it again. */
    retryFailed(runId: number): number {
      const run = store.runs.require(runId);
      if (run.status === 'running' || run.status === 'queued')
        throw new Error(`run ${runId} is still ${run.status}`);
      const requeued = store.runs.retryFailed(runId);
      if (requeued > 0) {
        store.runs.setStatus(runId, 'queued');
        executor.enqueue(runId);
      }
      return requeued;
    },
    list: (collectionId?: number): Run[] => store.runs.list(collectionId),
    get: (runId: number): Run => store.runs.require(runId),
    items: (
      runId: number,
      options: { state?: RunItemState; offset?: number; limit?: number } = {},
    ): RunItem[] => store.runs.items(runId, options),
  };
}

export type RunsService = ReturnType<typeof createRunsService>;
