// What executes a run's images: an engine host (the engine in a worker thread) loaded with the run's
// model and class set. The last host is kept for a while after its run, so consecutive runs with the
// same model and classes (a zero-shot pass, then TPT on the uncertain images) skip the model load.
import type { ExecutionProvider } from '../engine/runtime.js';
import { startEngineHost, type EngineHost } from './engine-host/host.js';
import type { EngineWorkerInit } from './engine-host/protocol.js';
import type { ImageProcessor, OpenProcessor, RunSpec } from './jobs/types.js';

export interface RunProcessorsOptions {
  provider: ExecutionProvider | 'auto';
  /** The engine worker module (ENGINE_WORKER_SCRIPT, or the bundled one in the packaged app). */
  workerScript: string | URL;
  /** How long an idle host is kept for the next run before its worker (and model memory) is freed. */
  idleMs?: number;
  startHost?: (init: EngineWorkerInit, script: string | URL) => Promise<EngineHost>;
}

export interface RunProcessors {
  open: OpenProcessor;
  /** Frees the kept host, if any. */
  close(): Promise<void>;
}

function workerInit(spec: RunSpec, provider: RunProcessorsOptions['provider']): EngineWorkerInit {
  const { classSet, model } = spec;
  return {
    modelDir: model.dir,
    classNames: classSet.classes.map((c) => c.name),
    prompts: classSet.classes.map((c) => c.prompt),
    template: classSet.template,
    contextInit: classSet.contextInit,
    provider,
  };
}

export function createRunProcessors(options: RunProcessorsOptions): RunProcessors {
  const { provider, workerScript, idleMs = 60_000, startHost = startEngineHost } = options;
  let kept: { key: string; host: Promise<EngineHost>; idleTimer: NodeJS.Timeout | null } | null = null;

  async function discardKept(): Promise<void> {
    const previous = kept;
    kept = null;
    if (!previous) return;
    if (previous.idleTimer) clearTimeout(previous.idleTimer);
    await (await previous.host.catch(() => null))?.close();
  }

  async function hostFor(init: EngineWorkerInit): Promise<EngineHost> {
    // The key holds everything the worker was loaded with: an edited class set gets a fresh host.
    const key = JSON.stringify(init);
    if (kept?.key === key) {
      if (kept.idleTimer) clearTimeout(kept.idleTimer);
      kept.idleTimer = null;
    } else {
      await discardKept();
      kept = { key, host: startHost(init, workerScript), idleTimer: null };
    }
    const current = kept;
    try {
      return await current.host;
    } catch (error) {
      if (kept === current) kept = null; // a host that failed to start is not kept
      throw error;
    }
  }

  return {
    async open(spec): Promise<ImageProcessor> {
      const host = await hostFor(workerInit(spec, provider));
      return {
        // The run's method decides, whatever the stored settings say.
        processImage: (path, params, signal) =>
          host.processImage(path, { ...params, method: spec.method }, signal),
        get device() {
          return host.device;
        },
        async close() {
          const current = kept;
          if (!current || (await current.host.catch(() => null)) !== host) return void (await host.close());
          current.idleTimer = setTimeout(() => {
            if (kept === current) void discardKept();
          }, idleMs);
          current.idleTimer.unref();
        },
      };
    },
    close: discardKept,
  };
}
