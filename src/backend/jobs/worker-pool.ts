// A fixed set of worker threads running one script, each doing one job at a time. The engine runs
// in such workers so that inference never blocks the process that serves the UI.
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './worker-protocol.js';

export interface WorkerPoolOptions<TInit> {
  /** The worker script (absolute path or file URL); it calls serveWorker(). A .ts script runs through tsx. */
  script: string | URL;
  /** Sent to each worker once, before its first job. */
  init: TInit;
  size?: number;
  /** How long a cancelled job may take to stop before its worker is ended and replaced. */
  cancelGraceMs?: number;
  execArgv?: string[];
  /**
   * Told when a worker dies while the pool is open (a crash, or ended after a cancel it ignored),
   * with why and whether a fresh worker took its place. The job it ran fails with the same reason.
   */
  onWorkerDied?: (report: string) => void;
}

interface Job<TInput, TOutput> {
  id: number;
  input: TInput;
  signal?: AbortSignal;
  onProgress?: (data: unknown) => void;
  resolve(output: TOutput): void;
  reject(error: unknown): void;
}

interface Slot<TInput, TOutput> {
  worker: Worker;
  ready: Promise<void>;
  initialised: boolean;
  job: Job<TInput, TOutput> | null;
  cancelTimer: NodeJS.Timeout | null;
}

export class WorkerPool<TInit, TInput, TOutput> {
  private readonly slots: Slot<TInput, TOutput>[] = [];
  private readonly queue: Job<TInput, TOutput>[] = [];
  private nextId = 1;
  private closed = false;
  /** Set when a worker cannot start: the pool then refuses all work instead of respawning forever. */
  private initError: Error | null = null;
  private readonly scriptName: string;
  private readonly scriptUrl: string;

  constructor(private readonly options: WorkerPoolOptions<TInit>) {
    this.scriptName = String(options.script);
    this.scriptUrl = options.script instanceof URL ? options.script.href : pathToFileURL(options.script).href;
    for (let i = 0; i < (options.size ?? 1); i++) this.slots.push(this.spawn());
  }

  /** Resolves when every worker has initialised; rejects with the first init error. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.ready));
  }

  /**
   * Runs one job on the next free worker. Aborting the signal cancels it (queued or running);
   * `onProgress` receives the job's progress reports.
   */
  run(input: TInput, signal?: AbortSignal, onProgress?: (data: unknown) => void): Promise<TOutput> {
    if (this.closed) return Promise.reject(new Error(`worker pool for ${this.scriptName} is closed`));
    if (this.initError) return Promise.reject(this.initError);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<TOutput>((resolve, reject) => {
      // A run's one signal serves all its jobs: each job's listener goes when the job settles.
      const onAbort = () => this.cancel(job);
      const settled = () => signal?.removeEventListener('abort', onAbort);
      const job: Job<TInput, TOutput> = {
        id: this.nextId++,
        input,
        signal,
        onProgress,
        resolve: (output) => (settled(), resolve(output)),
        reject: (error) => (settled(), reject(error)),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0))
      job.reject(new Error(`worker pool for ${this.scriptName} closed`));
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.job?.reject(new Error(`worker pool for ${this.scriptName} closed`));
        slot.job = null;
        if (slot.cancelTimer) clearTimeout(slot.cancelTimer);
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot<TInput, TOutput> {
    const worker = this.scriptName.endsWith('.ts')
      ? // Node 20 does not apply `--import tsx` to a worker's entry module: register tsx, then import it.
        new Worker(
          `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(this.scriptUrl)}); })`,
          { eval: true, execArgv: this.options.execArgv },
        )
      : new Worker(this.options.script, { execArgv: this.options.execArgv });
    let settleReady!: { resolve(): void; reject(error: Error): void };
    const ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }));
    ready.catch(() => {}); // observed through ready() and by failing jobs
    const slot: Slot<TInput, TOutput> = { worker, ready, initialised: false, job: null, cancelTimer: null };

    worker.on('message', (message: FromWorker<TOutput>) => {
      if (message.type === 'ready') {
        slot.initialised = true;
        settleReady.resolve();
        this.dispatch();
      } else if (message.type === 'init-error') {
        this.broken(new Error(`worker ${this.scriptName} failed to initialise: ${message.message}`));
        settleReady.reject(this.initError!);
      } else if (message.type === 'progress') {
        if (slot.job?.id === message.id) slot.job.onProgress?.(message.data);
      } else {
        this.finish(slot, message);
      }
    });
    worker.on('error', (error) => this.replace(slot, `failed: ${error.message}`, settleReady.reject));
    worker.on('exit', (code) => this.replace(slot, `exited with code ${code}`, settleReady.reject));
    worker.postMessage({ type: 'init', data: this.options.init } satisfies ToWorker<TInit, TInput>);
    return slot;
  }

  private finish(
    slot: Slot<TInput, TOutput>,
    message: Extract<FromWorker<TOutput>, { type: 'result' | 'error' }>,
  ): void {
    const job = slot.job;
    if (!job || job.id !== message.id) return; // a late answer to a job already given up on
    slot.job = null;
    if (slot.cancelTimer) clearTimeout(slot.cancelTimer);
    slot.cancelTimer = null;
    if (message.type === 'result') job.resolve(message.data);
    else if (message.cancelled && job.signal?.aborted) job.reject(job.signal.reason);
    else job.reject(new Error(message.message));
    this.dispatch();
  }

  /** A worker died: its job fails, and a fresh worker takes its place unless the pool is closing. */
  private replace(slot: Slot<TInput, TOutput>, what: string, rejectReady: (error: Error) => void): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return; // already replaced (error is followed by exit)
    const error = new Error(`worker ${this.scriptName} ${what}`);
    rejectReady(error);
    if (slot.cancelTimer) clearTimeout(slot.cancelTimer);
    const job = slot.job;
    slot.job = null;
    if (job) job.reject(job.signal?.aborted ? job.signal.reason : error);
    if (this.closed || this.initError) return;
    if (!slot.initialised) {
      this.broken(error);
      this.options.onWorkerDied?.(`${error.message} before it was ready; the pool stops`);
      return;
    }
    this.slots[index] = this.spawn();
    this.options.onWorkerDied?.(`${error.message}; a fresh worker replaces it`);
  }

  private cancel(job: Job<TInput, TOutput>): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(job.signal!.reason);
      return;
    }
    const slot = this.slots.find((s) => s.job === job);
    if (!slot) return;
    slot.worker.postMessage({ type: 'cancel', id: job.id } satisfies ToWorker<TInit, TInput>);
    // A job stuck in synchronous work cannot see the cancel message: end its worker after a grace time.
    slot.cancelTimer = setTimeout(() => void slot.worker.terminate(), this.options.cancelGraceMs ?? 5000);
  }

  private broken(error: Error): void {
    this.initError ??= error;
    for (const job of this.queue.splice(0)) job.reject(this.initError);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job) continue;
      void slot.ready.then(
        () => this.assign(slot),
        () => {},
      );
    }
  }

  private assign(slot: Slot<TInput, TOutput>): void {
    if (slot.job || this.queue.length === 0 || !this.slots.includes(slot)) return;
    const job = this.queue.shift()!;
    slot.job = job;
    slot.worker.postMessage({ type: 'process', id: job.id, data: job.input } satisfies ToWorker<
      TInit,
      TInput
    >);
  }
}
