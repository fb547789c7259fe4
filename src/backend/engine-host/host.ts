// Runs the engine in worker threads and offers it to the job queue as a ProcessImage function.
import { WorkerPool } from '../jobs/worker-pool.js';
import type { ProcessImage } from '../jobs/types.js';
import type { EngineJob, EngineJobResult, EngineWorkerInit } from './protocol.js';

export interface EngineHost {
  processImage: ProcessImage;
  /** The execution provider in use, known after the first image. */
  readonly device: string | null;
  close(): Promise<void>;
}

/**
 * `script` is the worker module: the .ts source under tsx (tests, CLI, serve mode) or the bundled .js
 * in the packaged app. One worker by default: onnxruntime already uses every core for one image.
 */
export async function startEngineHost(
  init: EngineWorkerInit,
  script: string | URL,
  size = 1,
): Promise<EngineHost> {
  const pool = new WorkerPool<EngineWorkerInit, EngineJob, EngineJobResult>({ script, init, size });
  await pool.ready();
  let device: string | null = null;
  return {
    processImage: async (path, params, signal) => {
      const result = await pool.run({ path, params, seedKey: path }, signal);
      device = result.device;
      return result;
    },
    get device() {
      return device;
    },
    close: () => pool.close(),
  };
}

/** The worker module next to this file, whichever form (source or bundle) is running. */
export const ENGINE_WORKER_SCRIPT = new URL(
  import.meta.url.endsWith('.ts') ? './worker.ts' : './engine-worker.js',
  import.meta.url,
);
