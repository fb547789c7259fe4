// What executes a run's images: an engine host (the engine in a worker process) loaded with the run's
// model and class set. The last host is kept for a while after its run, so consecutive runs with the
// same model and classes (a zero-shot pass, then TPT on the uncertain images) skip the model load.
import type { ExecutionProvider } from '../engine/runtime.js';
import { startEngineHost, type EngineHost } from './engine-host/host.js';
import type {
  EngineWorkerInit,
  LearnJob,
  LearnJobResult,
  Stage2Job,
  Stage2JobResult,
} from './engine-host/protocol.js';
import type { LearnProgress, Stage2Progress } from '../shared/domain/learned-prompts.js';
import type { ImageProcessor, OpenProcessor, RunSpec, ZeroShotTextOf } from './jobs/types.js';

export type LearnWith = (
  spec: Pick<RunSpec, 'model' | 'classSet'>,
  job: Omit<LearnJob, 'kind'>,
  signal?: AbortSignal,
  onProgress?: (progress: LearnProgress) => void,
) => Promise<LearnJobResult>;

/** Runs Self-TPT stage 2 of a learned prompt on a class set under a model (in an engine worker). */
export type Stage2With = (
  spec: Pick<RunSpec, 'model' | 'classSet'>,
  job: Omit<Stage2Job, 'kind'>,
  signal?: AbortSignal,
  onProgress?: (progress: Stage2Progress) => void,
) => Promise<Stage2JobResult>;

export interface RunProcessorsOptions {
  provider: ExecutionProvider | 'auto';
  /** The engine worker module (ENGINE_WORKER_SCRIPT, or the bundled one in the packaged app). */
  workerScript: string | URL;
  /** How long an idle host is kept for the next run before its worker (and model memory) is freed. */
  idleMs?: number;
  /** Where a dying engine worker is reported (it is replaced, and its image fails with the reason). */
  log?: (line: string) => void;
  startHost?: typeof startEngineHost;
}

export interface RunProcessors {
  open: OpenProcessor;
  /** A class set's zero-shot text features under a model, from the kept host where it matches. */
  zeroShotText: ZeroShotTextOf;
  /** Learns a prompt for a class set under a model from labelled images (in an engine worker). */
  learn: LearnWith;
  stage2: Stage2With;
  /** Stage-2 jobs completed by every host these processors started (for tests). */
  readonly stage2Runs: number;
  /** Frees the kept host, if any. */
  close(): Promise<void>;
}

function workerInit(
  { classSet, model }: Pick<RunSpec, 'model' | 'classSet'>,
  provider: RunProcessorsOptions['provider'],
): EngineWorkerInit {
  return {
    modelDir: model.dir,
    classNames: classSet.classes.map((c) => c.name),
    prompts: classSet.classes.map((c) => c.prompt),
    template: classSet.template,
    contextInit: classSet.contextInit,
    provider,
    learnedPrompt: classSet.learnedPrompt ?? null,
  };
}

interface KeptHost {
  /** Everything the worker was loaded with: an edited class set gets a fresh host. */
  key: string;
  host: Promise<EngineHost>;
  /** Runs and requests using the host now; it is only discarded when none are. */
  users: number;
  idleTimer: NodeJS.Timeout | null;
}

/** A host lent for one run or request; release() gives it back. */
interface LentHost {
  host: EngineHost;
  release(): Promise<void>;
}

export function createRunProcessors(options: RunProcessorsOptions): RunProcessors {
  const { provider, workerScript, idleMs = 60_000, startHost = startEngineHost, log } = options;
  const start = (init: EngineWorkerInit) =>
    startHost(init, workerScript, { onWorkerDied: (report) => log?.(`engine: ${report}`) });
  let kept: KeptHost | null = null;
  let stage2Runs = 0;

  async function closeHost(entry: KeptHost | null): Promise<void> {
    if (!entry) return;
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    await (await entry.host.catch(() => null))?.close();
  }

  function discardKept(): Promise<void> {
    const previous = kept;
    kept = null;
    return closeHost(previous);
  }

  async function borrow(init: EngineWorkerInit): Promise<LentHost> {
    const key = JSON.stringify(init);
    if (kept && kept.key !== key && kept.users > 0) {
      // The kept host is busy with other classes (a run while new prompts are re-scored): this
      // request gets a host of its own, ended after use.
      const host = await start(init);
      return { host, release: () => host.close() };
    }
    if (kept?.key !== key) {
      // The old host's memory is freed before the new one loads.
      const previous = kept;
      kept = {
        key,
        host: closeHost(previous).then(() => start(init)),
        users: 0,
        idleTimer: null,
      };
    }
    const current = kept!;
    if (current.idleTimer) clearTimeout(current.idleTimer);
    current.idleTimer = null;
    current.users++;
    let host: EngineHost;
    try {
      host = await current.host;
    } catch (error) {
      current.users--;
      if (kept === current) kept = null; // a host that failed to start is not kept
      throw error;
    }
    let released = false;
    return {
      host,
      async release() {
        if (released) return;
        released = true;
        // A host discarded meanwhile (processors closed) was ended with it.
        if (--current.users > 0 || kept !== current) return;
        current.idleTimer = setTimeout(() => {
          if (kept === current && current.users === 0) void discardKept();
        }, idleMs);
        current.idleTimer.unref();
      },
    };
  }

  /**
   * Calls `use` with a host of the class set's own words, not a learned prompt: where learning and
   * stage 2 start.
   */
  async function withWordsHost<T>(
    spec: Pick<RunSpec, 'model' | 'classSet'>,
    use: (host: EngineHost) => Promise<T>,
  ): Promise<T> {
    const { host, release } = await borrow(
      workerInit({ ...spec, classSet: { ...spec.classSet, learnedPrompt: null } }, provider),
    );
    try {
      return await use(host);
    } finally {
      await release();
    }
  }

  return {
    async open(spec): Promise<ImageProcessor> {
      const { host, release } = await borrow(workerInit(spec, provider));
      return {
        processImage: ({ path, seedKey }, settings, signal) =>
          host.processImage(path, settings, signal, seedKey),
        get device() {
          return host.device;
        },
        close: release,
      };
    },
    async zeroShotText(spec) {
      const { host, release } = await borrow(workerInit(spec, provider));
      try {
        return await host.zeroShotText();
      } finally {
        await release();
      }
    },
    learn: (spec, job, signal, onProgress) =>
      withWordsHost(spec, (host) => host.learn(job, signal, onProgress)),
    async stage2(spec, job, signal, onProgress) {
      const result = await withWordsHost(spec, (host) => host.stage2(job, signal, onProgress));
      stage2Runs++;
      return result;
    },
    get stage2Runs() {
      return stage2Runs;
    },
    close: discardKept,
  };
}
