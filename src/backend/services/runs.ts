// Runs: start classification/adaptation over a collection, a selection or its uncertain images, and
// control them. Execution is the RunExecutor's; this is the validated front of it.
import type { RunExecutor } from '../jobs/executor.js';
import type { Method, RunParams, RunScope } from '../jobs/types.js';
import type { Run, RunItem, RunItemState, Store } from '../store/index.js';

export interface StartRunInput {
  collectionId: number;
  classSetId: number;
  modelId: number;
  method: Method;
  params?: RunParams;
  scope: RunScope;
}

const methods: ReadonlySet<string> = new Set<Method>(['zeroshot', 'tpt', 'metatpt']);

export function createRunsService({ store, executor }: { store: Store; executor: RunExecutor }) {
  return {
    /** Creates the run with one work item per image in scope and queues it. */
    start(input: StartRunInput): Run {
      if (!methods.has(input.method)) throw new Error(`unknown method "${input.method}"`);
      store.collections.require(input.collectionId);
      store.classSets.require(input.classSetId);
      if (!store.models.get(input.modelId)) throw new Error(`model ${input.modelId} is not registered`);
      const run = store.runs.create({ ...input, params: input.params ?? {} });
      if (run.total === 0) {
        store.runs.setStatus(run.id, 'done');
        return store.runs.require(run.id);
      }
      executor.enqueue(run.id);
      return store.runs.require(run.id);
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
