// Self-TPT stage 2 (Zhu et al. 2024, §3.3: CPT alone on the target class names, no images) ahead of
// the runs that need it. A class set using a Self-TPT prompt learned for other classes needs stage 2
// on its own classes before it classifies. It runs in the background when such a class set is created
// or edited, or a Self-TPT prompt it uses is learned, and its result is cached in the store
// (selftpt_adaptations); a run start reads the cache, or computes the adaptation once and passes it
// to every engine worker (which never run stage 2 while loading).
import { usableAsLearned } from '../../engine/adapt/learn.js';
import type { Stage2Progress, Stage2Status } from '../../shared/domain/learned-prompts.js';
import { runSpecOf } from '../jobs/executor.js';
import type { RunSpec } from '../jobs/types.js';
import type { Stage2With } from '../run-processors.js';
import type { Store } from '../store/index.js';
import { stage2ClassKey } from '../store/selftpt-adaptations.js';

export interface Stage2ServiceDeps {
  store: Store;
  /** Runs stage 2 in an engine worker (RunProcessors.stage2). */
  stage2: Stage2With;
  /** Told whenever a class set's adaptation changes state or makes progress. */
  onStatus?: (status: Stage2Status) => void;
}

/** One stage-2 computation: of a learned prompt, under a model, for one list of classes. */
interface Job {
  key: string;
  /** The class set it was started for (its status shows the job). */
  classSetId: number;
  modelId: number;
  learnedPromptId: number;
  spec: Pick<RunSpec, 'model' | 'classSet'>;
  controller: AbortController;
  state: 'queued' | 'running';
  progress: Stage2Progress | null;
  /** Run starts waiting for it: while any do, a cancel or a later edit leaves it running. */
  runsWaiting: number;
  result: Promise<Float32Array>;
  settle: { resolve(ctx: Float32Array): void; reject(error: unknown): void };
}

const jobKey = (learnedPromptId: number, modelId: number, classes: RunSpec['classSet']) =>
  `${learnedPromptId}:${modelId}:${stage2ClassKey(classes)}`;

/** Resolves with `promise`, or rejects with the reason once `signal` aborts (the promise goes on). */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * What stage 2 a class set needs under a model: the Self-TPT prompt its runs use there (its own
 * newest, or the newest of any class set), its run spec, the key of its adaptation (null where the
 * prompt was learned for exactly these classes: nothing to adapt) and whether that is cached. Null
 * when the class set uses no Self-TPT prompt under the model.
 */
export function stage2Need(store: Store, classSetId: number, modelId: number) {
  const prompt = store.learnedPrompts.latest(classSetId, modelId, 'selftpt');
  if (!prompt) return null;
  const spec = runSpecOf(store, { modelId, classSetId, learnedPromptId: prompt.id });
  const names = spec.classSet.classes.map((c) => c.name);
  const key = usableAsLearned(prompt, names) ? null : jobKey(prompt.id, modelId, spec.classSet);
  const cached = key === null || store.selfTptAdaptations.has(prompt.id, modelId, spec.classSet);
  return { prompt, spec, key, cached };
}

/** The status of a need, with the job computing it and the last failure where there are. */
export function stage2Status(
  { prompt, spec, cached }: NonNullable<ReturnType<typeof stage2Need>>,
  job?: Pick<Job, 'state' | 'progress'>,
  failure?: string,
): Stage2Status {
  return {
    classSetId: spec.classSet.id,
    modelId: spec.model.id,
    learnedPromptId: prompt.id,
    learnedPromptVersion: prompt.version,
    learnedOnClassSetId: prompt.classSetId,
    state: job ? job.state : cached ? 'ready' : failure ? 'failed' : 'stale',
    progress: job?.progress ?? null,
    error: job || cached ? null : (failure ?? null),
  };
}

export function createStage2Service({ store, stage2, onStatus }: Stage2ServiceDeps) {
  /** Queued and running jobs by key; one runs at a time (each holds an engine worker with the model). */
  const jobs = new Map<string, Job>();
  const queue: Job[] = [];
  /** The background job of each (class set, model), for supersede and cancel. */
  const background = new Map<string, Job>();
  /** The last failure of a key, shown until it is tried again. */
  const failures = new Map<string, string>();
  let pumping = false;
  let closed = false;

  function statusOf(classSetId: number, modelId: number): Stage2Status | null {
    const need = stage2Need(store, classSetId, modelId);
    const job = need?.key == null ? undefined : jobs.get(need.key);
    return need && stage2Status(need, job, need.key === null ? undefined : failures.get(need.key));
  }

  function announce(classSetId: number, modelId: number): void {
    if (!onStatus || closed || !store.classSets.get(classSetId)) return;
    const status = statusOf(classSetId, modelId);
    if (status) onStatus(status);
  }

  /** Queues stage 2 of the prompt on the spec's classes (first in line for a run start). */
  function enqueue(
    key: string,
    learnedPromptId: number,
    spec: Pick<RunSpec, 'model' | 'classSet'>,
    first: boolean,
  ): Job {
    let settle!: Job['settle'];
    const result = new Promise<Float32Array>((resolve, reject) => (settle = { resolve, reject }));
    result.catch(() => {}); // a background job's failure is shown, not thrown
    const job: Job = {
      key,
      classSetId: spec.classSet.id,
      modelId: spec.model.id,
      learnedPromptId,
      spec,
      controller: new AbortController(),
      state: 'queued',
      progress: null,
      runsWaiting: 0,
      result,
      settle,
    };
    jobs.set(key, job);
    failures.delete(key);
    if (first) queue.unshift(job);
    else queue.push(job);
    void pump();
    return job;
  }

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      for (let job = queue.shift(); job; job = queue.shift()) await execute(job);
    } finally {
      pumping = false;
    }
  }

  async function execute(job: Job): Promise<void> {
    const { spec, controller, settle } = job;
    try {
      controller.signal.throwIfAborted();
      job.state = 'running';
      announce(job.classSetId, job.modelId);
      const started = performance.now();
      const { ctx, losses } = await stage2(
        spec,
        { learnedPrompt: spec.classSet.learnedPrompt! },
        controller.signal,
        (progress) => {
          job.progress = progress;
          announce(job.classSetId, job.modelId);
        },
      );
      const seconds = (performance.now() - started) / 1000;
      // The prompt may have been deleted meanwhile: its rows went with it, and this one has no home.
      if (store.learnedPrompts.get(job.learnedPromptId))
        store.selfTptAdaptations.put(job.learnedPromptId, job.modelId, spec.classSet, {
          ctx,
          losses,
          seconds,
        });
      settle.resolve(ctx);
    } catch (error) {
      if (!controller.signal.aborted)
        failures.set(job.key, error instanceof Error ? error.message : String(error));
      settle.reject(error);
    } finally {
      if (jobs.get(job.key) === job) jobs.delete(job.key);
      if (background.get(`${job.classSetId}:${job.modelId}`) === job)
        background.delete(`${job.classSetId}:${job.modelId}`);
      announce(job.classSetId, job.modelId);
    }
  }

  /** Stops a job nobody waits for (queued: removed; running: its worker job is cancelled). */
  function abandon(job: Job): void {
    if (job.runsWaiting > 0) return;
    job.controller.abort(new Error('stage 2 cancelled'));
    if (jobs.get(job.key) === job) jobs.delete(job.key);
    const queued = queue.indexOf(job);
    if (queued >= 0) {
      queue.splice(queued, 1);
      job.settle.reject(job.controller.signal.reason);
    }
  }

  return {
    /**
     * Starts stage 2 in the background for the class set under every model where it uses a Self-TPT
     * prompt learned for other classes and none is cached for its current classes. A job the class
     * set had running for its earlier classes is cancelled (unless a run waits for it). Never blocks.
     */
    schedule(classSetId: number): void {
      if (closed) return;
      for (const model of store.models.list()) {
        const need = stage2Need(store, classSetId, model.id);
        if (!need) continue;
        const slot = `${classSetId}:${model.id}`;
        const previous = background.get(slot);
        if (previous && previous.key !== need.key) {
          background.delete(slot);
          abandon(previous);
        }
        if (need.key !== null && !need.cached && !jobs.has(need.key))
          background.set(slot, enqueue(need.key, need.prompt.id, need.spec, false));
        announce(classSetId, model.id);
      }
    },

    /** After a Self-TPT prompt is learned: schedules every class set that now uses it. */
    scheduleUsersOf(learnedPromptId: number): void {
      const prompt = store.learnedPrompts.require(learnedPromptId);
      for (const classSet of store.classSets.list()) {
        if (store.learnedPrompts.latest(classSet.id, prompt.modelId, 'selftpt')?.id === prompt.id)
          this.schedule(classSet.id);
      }
    },

    /** The class set's adaptation under the model; null when it uses no Self-TPT prompt there. */
    status: statusOf,

    /** Cancels the class set's background jobs that no run waits for; returns whether one was. */
    cancel(classSetId: number): boolean {
      let cancelled = false;
      for (const [slot, job] of background) {
        if (job.classSetId !== classSetId || job.runsWaiting > 0) continue;
        background.delete(slot);
        abandon(job);
        cancelled = true;
        announce(classSetId, job.modelId);
      }
      return cancelled;
    },

    /**
     * The run's spec with its Self-TPT prompt adapted to its classes: from the cache, from the job
     * already computing it, or computed now (once, for all the run's workers) and cached. Other specs
     * are returned as they are. Rejects when `signal` aborts (a job under way goes on and is cached)
     * or stage 2 fails.
     */
    async adaptedSpec<T extends RunSpec>(spec: T, signal?: AbortSignal): Promise<T> {
      const learned = spec.classSet.learnedPrompt;
      const learnedPromptId = spec.settings.learnedPrompt;
      const names = spec.classSet.classes.map((c) => c.name);
      if (!learned || learnedPromptId == null || usableAsLearned(learned, names)) return spec;
      const modelId = spec.model.id;
      let ctx = store.selfTptAdaptations.get(learnedPromptId, modelId, spec.classSet)?.ctx;
      if (!ctx) {
        if (closed) throw new Error('the backend is closing');
        const key = jobKey(learnedPromptId, modelId, spec.classSet);
        let job = jobs.get(key);
        if (!job) job = enqueue(key, learnedPromptId, spec, true);
        else if (job.state === 'queued') queue.unshift(...queue.splice(queue.indexOf(job), 1));
        job.runsWaiting++;
        try {
          ctx = await untilAborted(job.result, signal);
        } finally {
          job.runsWaiting--;
        }
      }
      return {
        ...spec,
        classSet: { ...spec.classSet, learnedPrompt: { ...learned, ctx, classNames: names } },
      };
    },

    /** Cancels every job (at backend close); run starts waiting on one reject. */
    close(): void {
      closed = true;
      for (const job of jobs.values()) {
        job.runsWaiting = 0;
        abandon(job);
      }
    },
  };
}

export type Stage2Service = ReturnType<typeof createStage2Service>;
