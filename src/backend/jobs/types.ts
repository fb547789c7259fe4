// The contract between the job queue and whatever classifies an image (the engine, in a worker).
import type { LearnedContext } from '../../engine/adapt/learn.js';
import type { AdaptSettings } from '../../shared/domain/adaptation.js';
import type { WorkerProgress } from '../../shared/domain/runs.js';
import type { ImageResult } from '../store/index.js';

/** Everything about a run that processing one of its images needs; plain data, so it crosses to a worker. */
export interface RunSpec {
  runId: number;
  /** The run's method and settings, resolved and validated. */
  settings: AdaptSettings;
  model: { id: number; name: string; dir: string };
  classSet: {
    id: number;
    name: string;
    template: string;
    contextInit: string;
    classes: { name: string; prompt: string | null }[];
    /** The learned prompt the run's settings name (settings.learnedPrompt), loaded. */
    learnedPrompt?: LearnedContext | null;
  };
}

/** One image of a run, as the executor hands it to a processor. */
export interface ImageTask {
  imageId: number;
  /** The file, absolute, on the machine that owns the store. */
  path: string;
  /**
   * With the run's seed it fixes the image's random views: the workbench's absolute path, also where
   * the file is read from another path (a mapped mount or a downloaded copy), so results match.
   */
  seedKey: string;
  /** SHA-1 of the file's bytes when it was indexed (null when it could not be read then). */
  contentHash: string | null;
}

/**
 * Classifies one image with a run's settings. Should reject promptly (with any error) when signal
 * aborts; a processor may instead resolve with the result of work already under way (a remote
 * worker's image in flight), which is then recorded.
 */
export type ProcessImage = (
  image: ImageTask,
  settings: AdaptSettings,
  signal: AbortSignal,
) => Promise<ImageResult>;

/** What processes a run's images: typically an engine host with the run's model and classes loaded. */
export interface ImageProcessor {
  processImage: ProcessImage;
  /** The device in use ('CPU', 'CUDA: ...'), once known. */
  readonly device: string | null;
  /** Images to keep in flight; default: the executor's concurrency. */
  readonly concurrency?: number;
  /** The workers behind a queue, where images are processed by separate worker processes. */
  workers?(): WorkerProgress[];
  close(): Promise<void>;
}

/** What zero-shot scoring needs of a class set under a model, without any image. */
export interface ZeroShotText {
  /** Unit text features [C, P] of the class prompts. */
  textFeatures: Float32Array;
  /** P, the width of image and text features. */
  width: number;
  /** The model's logit scale (already exponentiated): logits = scale · image · textᵀ. */
  logitScale: number;
  /** Unit text features [C, P] with the class set's learned prompt, when one was loaded. */
  learnedFeatures?: Float32Array | null;
}

/** Computes a run's class set's zero-shot (and learned-prompt) text features with its model (in an engine worker). */
export type ZeroShotTextOf = (spec: RunSpec) => Promise<ZeroShotText>;

/**
 * Opens the processor for one run; the executor closes it when the run stops. Should reject soon
 * after `signal` aborts (the run paused or cancelled while its processor loads).
 */
export type OpenProcessor = (run: RunSpec, signal?: AbortSignal) => Promise<ImageProcessor>;
