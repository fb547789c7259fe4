// What the engine host sends its worker processes and gets back.
import type { LearnedContext, LearnMethod, LearnSettings } from '../../engine/adapt/learn.js';
import type { ProjectionHead } from '../../engine/adapt/selftpt.js';
import type { ExecutionProvider } from '../../engine/runtime.js';
import type { AdaptSettings } from '../../shared/domain/adaptation.js';
import type { ZeroShotText } from '../jobs/types.js';
import type { ImageResult } from '../store/index.js';

export interface EngineWorkerInit {
  modelDir: string;
  classNames: string[];
  /** Per-class prompt text overriding the template (null where the template applies). */
  prompts?: (string | null)[];
  template?: string;
  /** Words that initialise the learned context (default: the template's words before {}). */
  contextInit?: string | null;
  provider: ExecutionProvider | 'auto';
  /**
   * A learned prompt whose context the class set's prompts start from (methods coop, selftpt, CoOp
   * init). A Self-TPT prompt must be one for these class names (its own, or adapted by a stage2 job):
   * workers never run stage 2 while loading, where each worker of a run would repeat it.
   */
  learnedPrompt?: LearnedContext | null;
}

/**
 * Classify one image, give the class set's text features (for re-scoring cached images), learn a
 * prompt from labelled images, or adapt a Self-TPT prompt to the class set (stage 2).
 */
export type EngineJob = ImageJob | { kind: 'zero-shot-text' } | LearnJob | Stage2Job;

/**
 * Self-TPT stage 2 of `learnedPrompt` on the worker's class set (loaded without a learned prompt):
 * CPT steps from the stage-1 context, no images. Progress: one Stage2Progress per step.
 */
export interface Stage2Job {
  kind: 'stage2';
  learnedPrompt: LearnedContext;
}

export interface Stage2JobResult {
  kind: 'stage2';
  /** The adapted context [nCtx, D]. */
  ctx: Float32Array;
  /** CPT's loss before each step. */
  losses: number[];
}

export interface LearnJob {
  kind: 'learn';
  method: LearnMethod;
  settings: LearnSettings;
  /** Labelled images: cached unit features where there are some, else the file to encode. */
  items: { path: string; features: Float32Array | null; label: number }[];
}

export interface LearnJobResult {
  kind: 'learn';
  ctx: Float32Array;
  selfTpt: { sourceCtx: Float32Array; head: ProjectionHead } | null;
  accuracy: {
    trainBefore: number;
    trainAfter: number;
    validationBefore: number | null;
    validationAfter: number | null;
  };
  /** Items (by index) held out for validation. */
  heldOut: number[];
  history: Record<string, unknown>[];
  bestEpoch: number;
  adaptLosses: number[];
  /** The settings as resolved (defaults filled in). */
  settings: Required<LearnSettings>;
  nearestTokens: string[][];
  /** Features of the items that had none, for the cache. */
  encoded: { item: number; features: Float32Array }[];
}

export interface ImageJob {
  kind: 'image';
  path: string;
  /** The run's method and settings, validated when the run started. */
  settings: AdaptSettings;
  /** A stable key for the image (its path): with the run's seed it fixes the image's views. */
  seedKey: string;
}

export interface ImageJobResult extends ImageResult {
  kind: 'image';
  /** The execution provider the worker's engine runs on. */
  device: string;
}

export type EngineJobResult =
  ImageJobResult | ({ kind: 'zero-shot-text' } & ZeroShotText) | LearnJobResult | Stage2JobResult;
