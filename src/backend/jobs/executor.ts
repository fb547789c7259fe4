// Executes runs from their persistent work items, one run at a time, several images at once.
// Each image's result and the closing of its item are one transaction (store.results), so a crash
// loses at most the images in flight, and a restart redoes only those. A run is executed by one
// process at a time: the executor holds the lease of every run in its queue (leases.ts) and writes
// a result only while it holds it.
import { parseAdaptSettings } from '../../shared/domain/adaptation.js';
import { resolveInsideRoot, type ResolveOptions } from '../library/paths.js';
import type { WorkItem } from '../store/runs.js';
import { isStale, LeaseLostError, newLeaseOwner, RunOwnedError } from './leases.js';
import type { ImageResult, Store } from '../store/index.js';
import type { ImageProcessor, OpenProcessor, RunSpec } from './types.js';
import type { Run, RunProgress, RunStatus, WorkerProgress } from '../../shared/domain/runs.js';

export interface RunExecutorOptions {
  store: Store;
  /** Loads what processes a run's images (model, classes) when the run starts. */
  openProcessor: OpenProcessor;
  /** Images processed at once; match it to the number of workers behind the processor. */
  concurrency?: number;
  /** An image started this often without finishing (its process died each time) is marked failed. */
  maxAttempts?: number;
  /** After this many failures in a row the run stops as failed: something is wrong beyond one image. */
  maxConsecutiveFailures?: number;
  onProgress?: (progress: RunProgress) => void;
  /** Minimum milliseconds between progress events of a run (the last one is always sent). */
  progressIntervalMs?: number;
  /** Milliseconds between lease renewals (default 5 s). */
  heartbeatMs?: number;
  /** A lease not renewed for this many milliseconds may be taken over (default 30 s). */
  leaseStaleMs?: number;
  /**
   * The file to read for an image (default resolveInsideRoot: the real path inside the collection,
   * links out of it only where the collection follows them); refusals fail the image, named.
   */
  resolveImage?: (root: string, relPath: string, options: ResolveOptions) => Promise<string>;
}

const rateWindow = 50;

/** Why a run's loop stopped before its items ran out ('lost': another process took the run over). */
type StopRequest = 'pause' | 'cancel' | 'lost';

interface ActiveRun {
  runId: number;
  controller: AbortController;
  stop: StopRequest | null;
  finished: Promise<void>;
}

export class RunExecutor {
  private readonly queue: number[] = [];
  private active: ActiveRun | null = null;
  private loop: Promise<void> | null = null;
  private readonly options: Required<Omit<RunExecutorOptions, 'onProgress'>> &
    Pick<RunExecutorOptions, 'onProgress'>;
  private readonly owner = newLeaseOwner();
  /** The runs whose lease this executor holds: those queued here and the active one. */
  private readonly leased = new Set<number>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  constructor(options: RunExecutorOptions) {
    this.options = {
      concurrency: 1,
      maxAttempts: 3,
      maxConsecutiveFailures: 20,
      progressIntervalMs: 250,
      heartbeatMs: 5000,
      leaseStaleMs: 30_000,
      resolveImage: resolveInsideRoot,
      ...options,
    };
  }

  /**
   * Queues a run to be executed after the ones already queued: a queued or paused run, one left
   * `running` by a process that is gone, or a `failed` one that still has pending items. Takes the
   * run's lease first; throws RunOwnedError (changing nothing) when another live process holds it.
   */
  enqueue(runId: number): void {
    if (this.queue.includes(runId) || this.active?.runId === runId) return;
    const run = this.options.store.runs.require(runId);
    if (!this.resumable(run)) {
      throw new Error(
        `run ${runId} is ${run.status}; only queued, paused, interrupted or failed runs with images ` +
          'left can be started',
      );
    }
    this.takeLease(runId);
    // 'running' but not here: its process died; its active time ends at its last result.
    this.options.store.runs.setStatus(runId, 'queued', { interrupted: run.status === 'running' });
    this.queue.push(runId);
    this.kick();
  }

  private resumable(run: Run): boolean {
    if (run.status === 'queued' || run.status === 'paused' || run.status === 'running') return true;
    return run.status === 'failed' && this.options.store.runs.pendingCount(run.id) > 0;
  }

  private takeLease(runId: number): void {
    const { store, leaseStaleMs } = this.options;
    const now = Date.now();
    const held = store.runs.takeLease(runId, this.owner, now, (lease) => isStale(lease, now, leaseStaleMs));
    if (held) throw new RunOwnedError(runId, held, now);
    this.leased.add(runId);
    this.heartbeat ??= setInterval(() => this.renewLeases(), this.options.heartbeatMs);
    this.heartbeat.unref?.();
  }

  private releaseLease(runId: number): void {
    this.leased.delete(runId);
    try {
      this.options.store.runs.releaseLease(runId, this.owner.instance);
    } catch {
      // The store is unusable (disk full, closed): the lease goes stale and is taken over later.
    }
    if (this.leased.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
  }

  /**
   * Renews every lease held. A run another process paused or cancelled (the app's window while the
   * CLI executes it) is stopped here too; a run whose lease was taken over is dropped without a write.
   */
  private renewLeases(): void {
    const { runs } = this.options.store;
    for (const runId of this.leased) {
      const stop: StopRequest | null = !runs.renewLease(runId, this.owner.instance, Date.now())
        ? 'lost'
        : runs.get(runId)?.status === 'paused'
          ? 'pause'
          : runs.get(runId)?.status === 'cancelled'
            ? 'cancel'
            : null;
      if (stop) void this.stop(runId, stop);
    }
  }

  /** Stops a run after abandoning its images in flight (they stay pending); resume() continues it. */
  pause(runId: number): Promise<void> {
    return this.stop(runId, 'pause');
  }

  resume(runId: number): void {
    this.enqueue(runId);
  }

  /** Ends a run for good; its unprocessed items stay pending and its results stay. */
  cancel(runId: number): Promise<void> {
    return this.stop(runId, 'cancel');
  }

  /**
   * At start-up: requeues runs a previous process left running (it died), then the runs that were
   * waiting, leaving alone those another live process holds. Returns the ids taken, in order.
   */
  resumeInterruptedRuns(): number[] {
    const { runs } = this.options.store;
    const taken: number[] = [];
    for (const { id } of [...runs.withStatus('running'), ...runs.withStatus('queued')]) {
      try {
        this.enqueue(id);
        taken.push(id);
      } catch (error) {
        if (!(error instanceof RunOwnedError)) throw error;
      }
    }
    return taken;
  }

  /** Resolves when no run is executing or queued. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  activeRunId(): number | null {
    return this.active?.runId ?? null;
  }

  private async stop(runId: number, request: StopRequest): Promise<void> {
    const status: RunStatus = request === 'pause' ? 'paused' : 'cancelled';
    const queued = this.queue.indexOf(runId);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      if (request !== 'lost') this.options.store.runs.setStatus(runId, status);
      this.releaseLease(runId);
      return;
    }
    if (this.active?.runId === runId) {
      this.active.stop = request;
      this.active.controller.abort(new Error(`run ${runId} ${status}`));
      await this.active.finished;
      return;
    }
    if (request === 'lost') return;
    const run = this.options.store.runs.require(runId);
    // Not in this process's queue: never enqueued, or another process executes it (its owner sees
    // the new status at its next heartbeat and stops).
    if (run.status === 'queued' || run.status === 'paused' || run.status === 'running') {
      this.options.store.runs.setStatus(runId, status);
    } else if (run.status !== status) {
      throw new Error(`run ${runId} is ${run.status}; it cannot be ${status}`);
    }
  }

  private kick(): void {
    if (this.loop) return;
    this.loop = (async () => {
      try {
        for (let runId = this.queue.shift(); runId !== undefined; runId = this.queue.shift()) {
          // A run that cannot even start (its model or class set is gone) fails alone.
          await this.execute(runId).catch((error: unknown) => markFailed(this.options.store, runId!, error));
          this.releaseLease(runId);
        }
      } finally {
        this.loop = null;
      }
    })();
  }

  private async execute(runId: number): Promise<void> {
    const { store } = this.options;
    let markFinished!: () => void;
    const active: ActiveRun = {
      runId,
      controller: new AbortController(),
      stop: null,
      finished: new Promise((resolve) => (markFinished = resolve)),
    };
    this.active = active;
    let processor: ImageProcessor | null = null;
    const progress = new ProgressReporter(store, runId, this.options);
    try {
      store.runs.setStatus(runId, 'running');
      const spec = runSpec(store, runId);
      processor = await this.options.openProcessor(spec, active.controller.signal);
      const fatal = active.controller.signal.aborted
        ? null
        : await this.process(spec, processor, active, progress);
      const final: RunStatus =
        active.stop === 'pause'
          ? 'paused'
          : active.stop === 'cancel'
            ? 'cancelled'
            : fatal
              ? 'failed'
              : 'done';
      if (active.stop !== 'lost') store.runs.setStatus(runId, final, fatal ? { error: fatal } : {});
      store.optimize();
    } catch (error) {
      // The processor could not start, or the store failed (disk full): the run cannot go on. The
      // images in flight stay pending, and `run --resume` continues once the cause is fixed.
      // A pause or cancel while the processor loaded (stage 2 under way) ends it as asked.
      if (active.stop === 'pause' || active.stop === 'cancel')
        store.runs.setStatus(runId, active.stop === 'pause' ? 'paused' : 'cancelled');
      active.controller.abort(error);
      if (!active.stop && !(error instanceof LeaseLostError)) markFailed(store, runId, error);
    } finally {
      this.active = null;
      await processor?.close();
      progress.report(null, true);
      markFinished();
    }
  }

  /** Runs the pending items through the processor; returns why the run must fail, or null. */
  private async process(
    spec: RunSpec,
    processor: ImageProcessor,
    active: ActiveRun,
    progress: ProgressReporter,
  ): Promise<string | null> {
    const { store, maxAttempts, maxConsecutiveFailures, resolveImage } = this.options;
    const concurrency = processor.concurrency ?? this.options.concurrency;
    const { runId } = spec;
    const { signal } = active.controller;
    let consecutiveFailures = 0;
    let fatal: string | null = null;
    // Stored with the first result, when the processor has certainly settled on a device.
    let device: string | null = null;
    progress.device = processor.device;
    progress.workers = processor.workers?.bind(processor) ?? null;

    // Items are handed out in image-id order from small pages; each lane holds one at a time.
    let cursor = 0;
    let buffer: WorkItem[] = [];
    const nextItem = (): WorkItem | undefined => {
      if (buffer.length === 0) {
        buffer = store.runs.nextPending(runId, cursor, 64);
        if (buffer.length > 0) cursor = buffer[buffer.length - 1].imageId;
      }
      return buffer.shift();
    };

    const lane = async () => {
      for (let item = nextItem(); item && !signal.aborted && !fatal; item = nextItem()) {
        if (item.attempts >= maxAttempts) {
          store.results.recordFailureOnce(
            runId,
            item.imageId,
            `gave up after ${item.attempts} attempts that never finished`,
          );
          continue;
        }
        store.runs.beginAttempt(runId, item.imageId);
        progress.report(item.relPath);
        let result: ImageResult;
        try {
          const path = await resolveImage(item.root, item.relPath, { followLinksOutside: item.followLinks });
          const image = { imageId: item.imageId, path, seedKey: path, contentHash: item.contentHash };
          // A result that arrives after a pause (a worker's image in flight) is still recorded.
          result = await processor.processImage(image, spec.settings, signal);
        } catch (error) {
          if (signal.aborted) break; // paused or cancelled: the item stays pending
          const message = error instanceof Error ? error.message : String(error);
          this.whileLeased(runId, () => store.results.recordFailureOnce(runId, item.imageId, message));
          if (++consecutiveFailures >= maxConsecutiveFailures) {
            fatal = `stopped after ${consecutiveFailures} failures in a row; the last: ${message}`;
          }
          progress.completed();
          progress.report(item.relPath);
          continue;
        }
        // Outside the try: a store that cannot write (disk full) stops the run, not the image.
        // Once per (run, image): a result that arrives twice is not written again.
        this.whileLeased(runId, () => store.results.recordResultOnce(runId, item.imageId, result));
        consecutiveFailures = 0;
        if (processor.device !== device) {
          device = progress.device = processor.device;
          if (device) store.runs.setDevice(runId, device);
        }
        progress.completed();
        progress.report(item.relPath);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    return fatal;
  }

  /** Writes in one transaction with a check that this executor still holds the run's lease. */
  private whileLeased(runId: number, write: () => void): void {
    const { store } = this.options;
    store.writeTransaction(() => {
      if (!store.runs.holdsLease(runId, this.owner.instance)) {
        if (this.active?.runId === runId) this.active.stop = 'lost';
        throw new LeaseLostError(runId);
      }
      write();
    });
  }
}

/** Turns completions into throttled progress events with a rate over the recent ones. */
class ProgressReporter {
  device: string | null = null;
  workers: (() => WorkerProgress[]) | null = null;
  private readonly completions: number[] = [];
  private lastReportAt = 0;

  constructor(
    private readonly store: Store,
    private readonly runId: number,
    private readonly options: Pick<RunExecutorOptions, 'onProgress' | 'progressIntervalMs'>,
  ) {}

  completed(): void {
    this.completions.push(Date.now());
    if (this.completions.length > rateWindow) this.completions.shift();
  }

  report(currentImage: string | null, force = false): void {
    const now = Date.now();
    const { onProgress, progressIntervalMs = 0 } = this.options;
    if (!onProgress || (!force && now - this.lastReportAt < progressIntervalMs)) return;
    this.lastReportAt = now;
    const { status, total, done, failed } = this.store.runs.require(this.runId);
    const times = this.completions;
    const span = times.length > 1 ? (times[times.length - 1] - times[0]) / 1000 : 0;
    const rate = span > 0 ? (times.length - 1) / span : 0;
    const remaining = total - done - failed;
    onProgress({
      runId: this.runId,
      status,
      total,
      done,
      failed,
      rate,
      etaSeconds: remaining === 0 ? 0 : rate > 0 ? remaining / rate : null,
      currentImage,
      device: this.device,
      ...(this.workers && { workers: this.workers() }),
    });
  }
}

/** The run's settings, model and classes, read once when it starts. */
export function runSpec(store: Store, runId: number): RunSpec {
  const run = store.runs.require(runId);
  // The run's method decides, whatever the stored settings say; validated once, here.
  const settings = parseAdaptSettings({ ...run.params, method: run.method });
  return {
    runId,
    settings,
    ...runSpecOf(store, {
      modelId: run.modelId,
      classSetId: run.classSetId,
      learnedPromptId: settings.learnedPrompt,
    }),
  };
}

/** The model and class set (with a learned prompt, if named) as the engine loads them. */
export function runSpecOf(
  store: Store,
  ids: { modelId: number; classSetId: number; learnedPromptId?: number | null },
): Pick<RunSpec, 'model' | 'classSet'> {
  const model = store.models.get(ids.modelId);
  if (!model) throw new Error(`model ${ids.modelId} is not registered`);
  const classSet = store.classSets.require(ids.classSetId);
  const learned = ids.learnedPromptId ? store.learnedPrompts.require(ids.learnedPromptId) : null;
  return {
    model: { id: model.id, name: model.name, dir: model.dir },
    classSet: {
      id: classSet.id,
      name: classSet.name,
      template: classSet.template,
      contextInit: classSet.contextInit,
      classes: classSet.classes.map((c) => ({ name: c.name, prompt: c.prompt })),
      learnedPrompt: learned && {
        method: learned.method,
        ctx: learned.ctx,
        classNames: learned.classNames,
        selfTpt: learned.selfTpt,
        settings: learned.settings,
      },
    },
  };
}

function markFailed(store: Store, runId: number, error: unknown): void {
  try {
    store.runs.setStatus(runId, 'failed', {
      error: `run stopped: ${error instanceof Error ? error.message : String(error)}`,
    });
  } catch {
    // The store is unusable too; the run stays 'running' and resumeInterruptedRuns() picks it up later.
  }
}
