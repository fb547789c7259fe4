// Runs the engine in worker processes (a native crash ends only its worker): one image, the class
// set's text features, a prompt to learn, or a Self-TPT prompt to adapt (stage 2) per job.
import { WorkerPool } from '../jobs/worker-pool.js';
import type { AdaptSettings } from '../../shared/domain/adaptation.js';
import type { ImageResult } from '../store/results.js';
import type { ZeroShotText } from '../jobs/types.js';
import type {
  EngineJob,
  EngineJobResult,
  EngineWorkerInit,
  LearnJob,
  LearnJobResult,
  Stage2Job,
  Stage2JobResult,
} from './protocol.js';
import type { LearnProgress, Stage2Progress } from '../../shared/domain/learned-prompts.js';

export interface EngineHost {
  /**
   * Classifies the image file at `path`; `seedKey` (default: the path) with the run's seed fixes its
   * random views. Rejects soon after `signal` aborts.
   */
  processImage(
    path: string,
    settings: AdaptSettings,
    signal: AbortSignal,
    seedKey?: string,
  ): Promise<ImageResult>;
  /** The loaded class set's zero-shot text features (and learned-prompt features, if one is loaded). */
  zeroShotText(): Promise<ZeroShotText>;
  /** Learns a prompt for the loaded class set from labelled images. */
  learn(
    job: Omit<LearnJob, 'kind'>,
    signal?: AbortSignal,
    onProgress?: (progress: LearnProgress) => void,
  ): Promise<LearnJobResult>;
  /**
   * Self-TPT stage 2 of a learned prompt on the loaded class set (the host must be loaded without a
   * learned prompt); progress once per CPT step.
   */
  stage2(
    job: Omit<Stage2Job, 'kind'>,
    signal?: AbortSignal,
    onProgress?: (progress: Stage2Progress) => void,
  ): Promise<Stage2JobResult>;
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
    onProgress?: (data: unknown) => void,
  ): Promise<Extract<EngineJobResult, { kind: K }>> {
    const result = await pool.run(job, signal, onProgress);
    if (result.kind !== job.kind)
      throw new Error(`engine worker answered a ${job.kind} job with ${result.kind}`);
    return result as Extract<EngineJobResult, { kind: K }>;
  }
  return {
    processImage: async (path, settings, signal, seedKey = path) => {
      const result = await ask({ kind: 'image', path, settings, seedKey }, signal);
      device = result.device;
      return result;
    },
    zeroShotText: async () => {
      const { textFeatures, width, logitScale, learnedFeatures } = await ask({ kind: 'zero-shot-text' });
      return { textFeatures, width, logitScale, learnedFeatures };
    },
    learn: (job, signal, onProgress) =>
      ask({ kind: 'learn', ...job }, signal, onProgress && ((data) => onProgress(data as LearnProgress))),
    stage2: (job, signal, onProgress) =>
      ask({ kind: 'stage2', ...job }, signal, onProgress && ((data) => onProgress(data as Stage2Progress))),
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
