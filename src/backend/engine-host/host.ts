// Runs the engine in worker threads and offers it to the job queue as a ProcessImage function.
import { WorkerPool } from '../jobs/worker-pool.js';
import type { ProcessImage, ZeroShotText } from '../jobs/types.js';
import type { EngineJob, EngineJobResult, EngineWorkerInit } from './protocol.js';

export interface EngineHost {
  processImage: ProcessImage;
  /** The loaded class set's zero-shot text features. */
  zeroShotText(): Promise<ZeroShotText>;
  /** The execution provider in use, known after the first image. */
  readonly device: string | null;
  close(): Promise<void>;
}

export interface EngineHostOptions {
  /** Workers; one by default: onnxruntime already uses every core for one image. */
  size?: number;
  /** Told when a worker dies (a native crash in a provider, say) and is replaced; see WorkerPool. */
  onWorkerDied?: (report: string) => void;
}

/**
 * `script` is the worker module: the .ts source under tsx (tests, CLI, serve mode) or the bundled .js
 * in the packaged app. An image whose worker dies fails with the reason; the next gets a fresh worker.
 */
export async function startEngineHost(
  init: EngineWorkerInit,
  script: string | URL,
  { size = 1, onWorkerDied }: EngineHostOptions = {},
): Promise<EngineHost> {
  const pool = new WorkerPool<EngineWorkerInit, EngineJob, EngineJobResult>({
    script,
    init,
    size,
    onWorkerDied,
  });
  await pool.ready();
  let device: string | null = null;
  /** Runs a job and checks that the answer is of its kind. */
  async function ask<K extends EngineJob['kind']>(
    job: Extract<EngineJob, { kind: K }>,
    signal?: AbortSignal,
  ): Promise<Extract<EngineJobResult, { kind: K }>> {
    const result = await pool.run(job, signal);
    if (result.kind !== job.kind)
      throw new Error(`engine worker answered a ${job.kind} job with ${result.kind}`);
    return result as Extract<EngineJobResult, { kind: K }>;
  }
  return {
    processImage: async (path, settings, signal) => {
      const result = await ask({ kind: 'image', path, settings, seedKey: path }, signal);
      device = result.device;
      return result;
    },
    zeroShotText: async () => {
      const { textFeatures, width, logitScale } = await ask({ kind: 'zero-shot-text' });
      return { textFeatures, width, logitScale };
    },
    get device() {
      return device;
    },
    close: () => pool.close(),
  };
}

/**
 * The worker module next to this file, whichever form (source or bundle) is running. Two plain
 * strings, not a template: Vite rewrites `new URL(template, import.meta.url)` into a glob lookup.
 */
export const ENGINE_WORKER_SCRIPT = new URL(
  import.meta.url.endsWith('.ts') ? './engine-worker.ts' : './engine-worker.js',
  import.meta.url,
);
