// What executes a run's images: an engine host (the engine in a worker process) loaded with the run's
// model and class set. The last host is kept for a while after its run, so consecutive runs with the
// same model and classes (a zero-shot pass, then TPT on the uncertain images) skip the model load.
import type { ExecutionProvider } from '../engine/runtime.js';
import { startEngineHost, type EngineHost } from './engine-host/host.js';
import type { EngineWorkerInit, LearnJob, LearnJobResult } from './engine-host/protocol.js';
import type { LearnProgress } from '../shared/domain/learned-prompts.js';
import type { ImageProcessor, OpenProcessor, RunSpec, ZeroShotTextOf } from './jobs/types.js';

export type LearnWith = (
  spec: Pick<RunSpec, 'model' | 'classSet'>,
  job: Omit<LearnJob, 'kind'>,
  signal?: AbortSignal,
  onProgress?: (progress: LearnProgress) => void,
) => Promise<LearnJobResult>;

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
    async learn(spec, job, signal, onProgress) {
      // Learning starts from the class set's words, not from an earlier learned prompt.
      const { host, release } = await borrow(
        workerInit({ ...spec, classSet: { ...spec.classSet, learnedPrompt: null } }, provider),
      );
      try {
        return await host.learn(job, signal, onProgress);
      } finally {
        await release();
      }
    },
    close: discardKept,
  };
}
