// A fixed set of worker processes running one script, each doing one job at a time. The engine runs
// in such workers so that inference never blocks the process that serves the UI, and in processes,
// not threads, so that a native crash (an abort in onnxruntime or an image codec) ends only the
// worker: its job fails with the signal's name and a fresh worker takes the next one.
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
  worker: ChildProcess;
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
  private readonly scriptPath: string;

  constructor(private readonly options: WorkerPoolOptions<TInit>) {
    this.scriptName = String(options.script);
    this.scriptPath = options.script instanceof URL ? fileURLToPath(options.script) : options.script;
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
        await kill(slot.worker);
      }),
    );
  }

  private spawn(): Slot<TInput, TOutput> {
    const worker = fork(this.scriptPath, [], {
      // A .ts worker runs through tsx, found from here so that any working directory will do.
      execArgv: [
        ...(this.scriptPath.endsWith('.ts') ? ['--import', TSX_LOADER] : []),
        ...(this.options.execArgv ?? []),
      ],
      // Typed arrays (features, probabilities) cross as they are, not as JSON.
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Inside Electron (the backend's utility process) the executable is Electron itself.
      env: process.versions.electron ? { ...process.env, ELECTRON_RUN_AS_NODE: '1' } : process.env,
    });
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
    worker.on('exit', (code, signal) =>
      this.replace(slot, signal ? `was killed by ${signal}` : `exited with code ${code}`, settleReady.reject),
    );
    send(worker, { type: 'init', data: this.options.init });
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
    send(slot.worker, { type: 'cancel', id: job.id });
    // A job stuck in synchronous work cannot see the cancel message: end its worker after a grace time.
    slot.cancelTimer = setTimeout(() => slot.worker.kill('SIGKILL'), this.options.cancelGraceMs ?? 5000);
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
    send(slot.worker, { type: 'process', id: job.id, data: job.input });
  }
}

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Sends a message unless the worker is gone (its exit handler then fails the job). */
function send<TInit, TInput>(worker: ChildProcess, message: ToWorker<TInit, TInput>): void {
  if (worker.connected) worker.send(message);
}

/** Ends a worker and waits until it is gone. */
async function kill(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  worker.kill('SIGKILL');
  await exited;
}
