// Runs: start classification/adaptation over a collection, a selection or its uncertain images, and
// control them. Execution is the RunExecutor's; this is the validated front of it.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { runSpec, type RunExecutor } from '../jobs/executor.js';
import type { ZeroShotTextOf } from '../jobs/types.js';
import {
  ADAPT_METHODS,
  learnedPromptKind,
  parseAdaptSettings,
  SETTING_NAMES,
  settingMethods,
  type AdaptMethod,
} from '../../shared/domain/adaptation.js';
import type { RunParams, RunScope } from '../../shared/domain/runs.js';
import type { Run, RunItem, RunItemState, Store } from '../store/index.js';
import { scoresFromFeatures } from './zero-shot-scores.js';
import type { RunInfo, SettingValue } from '../../shared/domain/runs.js';
import { InvalidRequestError } from '../store/errors.js';

export interface StartRunInput {
  collectionId: number;
  classSetId: number;
  modelId: number;
  method: AdaptMethod;
  params?: RunParams;
  scope: RunScope;
  /** Layer the run on this run (see NewRun.baseRunId). */
  baseRunId?: number | null;
}

/**
 * Every setting of a run, resolved from its stored params (the preset named, then the values that
 * differ) with the one settings table (src/shared/domain/adaptation.ts), in its order; only the
 * settings that mean something for the method (none for zero-shot). `preset` is the one named, or null.
 */
export function runSettings(method: AdaptMethod, params: RunParams): Record<string, SettingValue> {
  if (method === 'zeroshot') return {};
  const resolved = parseAdaptSettings({ ...params, method });
  const settings: Record<string, SettingValue> = {
    preset: typeof params.preset === 'string' ? params.preset : null,
  };
  for (const name of SETTING_NAMES) {
    if (name !== 'preset' && settingMethods(name).includes(method)) settings[name] = resolved[name];
  }
  return settings;
}

export type RescoreInput = Pick<StartRunInput, 'collectionId' | 'classSetId' | 'modelId'> & {
  /** zeroshot (default), or a learned prompt's method: coop or selftpt. */
  method?: 'zeroshot' | 'coop' | 'selftpt';
  params?: RunParams;
};

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
  function describe(run: Run): RunInfo {
    let settings: Record<string, SettingValue>;
    try {
      settings = runSettings(run.method, run.params);
    } catch {
      // Settings this version no longer reads: show them as stored rather than fail the list.
      settings = Object.fromEntries(
        Object.entries(run.params).filter(([, v]) => v === null || typeof v !== 'object'),
      ) as Record<string, SettingValue>;
    }
    return {
      ...run,
      settings,
      modelName: store.models.get(run.modelId)?.name ?? null,
      classSetName: store.classSets.get(run.classSetId)?.name ?? null,
    };
  }

  function create(input: StartRunInput): Run {
    if (!methods.has(input.method)) throw new InvalidRequestError(`unknown method "${input.method}"`);
    store.collections.require(input.collectionId);
    const classSet = store.classSets.require(input.classSetId);
    if (!store.models.get(input.modelId))
      throw new InvalidRequestError(`model ${input.modelId} is not registered`);
    return store.runs.create({ ...input, params: withLearnedPrompt(input, classSet.name) });
  }

  /**
   * The run's params with the learned prompt it uses written in (so the run records exactly which):
   * the one named, else for coop/selftpt/selftpt-v the class set's newest of that kind under the model.
   */
  function withLearnedPrompt(input: StartRunInput, classSetName: string): RunParams {
    const params = { ...(input.params ?? {}) };
    const kind = learnedPromptKind(input.method);
    if (params.learnedPrompt !== undefined && params.learnedPrompt !== null) {
      const learned = store.learnedPrompts.get(Number(params.learnedPrompt));
      if (!learned)
        throw new InvalidRequestError(`learned prompt ${String(params.learnedPrompt)} does not exist`);
      if (learned.modelId !== input.modelId)
        throw new InvalidRequestError(
          `learned prompt ${learned.id} was learned under model ${learned.modelId}, not ${input.modelId}`,
        );
      if (kind && learned.method !== kind)
        throw new InvalidRequestError(
          `method ${input.method} needs a ${kind} prompt; learned prompt ${learned.id} is ${learned.method}`,
        );
      return params;
    }
    if (!kind) return params;
    const latest = store.learnedPrompts.latest(input.classSetId, input.modelId, kind);
    if (!latest) {
      throw new InvalidRequestError(
        `class set "${classSetName}" has no ${kind === 'coop' ? 'CoOp' : 'Self-TPT'} prompt learned under this model: learn one from its reviewed labels first`,
      );
    }
    return { ...params, learnedPrompt: latest.id };
  }

  /** Finishes a run with nothing left to do, or queues it for the executor. */
  function queueRest(runId: number): RunInfo {
    const run = store.runs.require(runId);
    if (run.done + run.failed === run.total) store.runs.setStatus(runId, 'done');
    else executor.enqueue(runId);
    return describe(store.runs.require(runId));
  }

  return {
    /** Creates the run with one work item per image in scope and queues it. */
    start: (input: StartRunInput): RunInfo => queueRest(create(input).id),
    /**
     * A zero-shot run (or coop/selftpt, with a learned prompt) over the collection whose images with
     * cached features (under the model) are scored at once from those features and the class set's
     * current prompts; the other images are queued for the engine as in any run.
     */
    async rescore(input: RescoreInput): Promise<RunInfo> {
      const run = create({ ...input, method: input.method ?? 'zeroshot', scope: { kind: 'collection' } });
      try {
        // The class set's prompts (and learned prompt) as the caller stored them: an engine that
        // cannot load them (a context init of another length than the template's words, say) is the
        // caller's to fix, as invalid input.
        const text = await zeroShotText(runSpec(store, run.id)).catch((error: unknown) => {
          throw new InvalidRequestError(
            `the engine cannot load class set ${run.classSetId} under model ${run.modelId}: ${(error as Error).message}`,
            { cause: error },
          );
        });
        if (run.method !== 'zeroshot' && !text.learnedFeatures)
          throw new Error(`the engine loaded no learned prompt for run ${run.id}`);
        for (let page = store.imageFeatures.pendingWithFeatures(run.id, 0, RESCORE_BATCH); page.length > 0;) {
          store.results.recordResults(
            run.id,
            page.map(({ imageId, features }) => ({ imageId, result: scoresFromFeatures(features, text) })),
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
        throw new InvalidRequestError(`run ${runId} is still ${run.status}`);
      const requeued = store.runs.retryFailed(runId);
      if (requeued > 0) {
        store.runs.setStatus(runId, 'queued');
        executor.enqueue(runId);
      }
      return requeued;
    },
    list: (collectionId?: number): RunInfo[] => store.runs.list(collectionId).map(describe),
    get: (runId: number): RunInfo => describe(store.runs.require(runId)),
    /** Names a run (null or blank: no name). */
    rename: (runId: number, name: string | null): RunInfo => describe(store.runs.rename(runId, name)),
    items: (
      runId: number,
      options: { state?: RunItemState; offset?: number; limit?: number } = {},
    ): RunItem[] => store.runs.items(runId, options),
  };
}

export type RunsService = ReturnType<typeof createRunsService>;
