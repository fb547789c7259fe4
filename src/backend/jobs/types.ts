// The contract between the job queue and whatever classifies an image (the engine, in a worker).

export interface ViewResult {
  /** The view's 2x3 affine warp, row-major (6 numbers). */
  theta: ArrayLike<number>;
  entropy: number;
  /** Whether the view was among the confident views the prompt was tuned on. */
  selected: boolean;
}

export interface ImageResult {
  /** Ordinal of the predicted class within the run's class set. */
  label: number;
  /** Final class probabilities (adapted where adapted is true, otherwise zero-shot). */
  probs: Float32Array;
  zeroShotProbs: Float32Array;
  entropy: number;
  zeroShotEntropy: number;
  adapted: boolean;
  /**
   * Unit features [P] of the original image from the run's model: cached with the result so that new
   * prompts re-score the image without the vision tower. Absent where nothing was encoded (re-scoring).
   */
  imageFeatures?: Float32Array;
  /** The tuned prompt context vectors, shape [nCtx, width]. */
  ctx?: { shape: number[]; data: Float32Array };
  /** For each context position, the vocabulary tokens nearest to its vector. */
  nearestTokens?: string[][];
  views?: ViewResult[];
  /** Loss values per optimisation step, by loss name. */
  losses?: Record<string, number[]>;
  /** Milliseconds per phase, by phase name. */
  timings: Record<string, number>;
}

/** The engine's method names (src/engine/adapt/options.ts), as the CLI and the API spell them. */
export type Method = 'zeroshot' | 'tpt' | 'metatpt';

/** What a run processes. 'uncertain': images whose zero-shot entropy in an earlier run is high. */
export type RunScope =
  | { kind: 'collection' }
  | { kind: 'images'; imageIds: number[] }
  | { kind: 'uncertain'; baseRunId: number; minZeroShotEntropy: number };

/** Method settings chosen for a run (steps, learning rate, view count, entropy threshold, ...). */
export interface RunParams {
  [key: string]: unknown;
}

/** Everything about a run that processing one of its images needs; plain data, so it crosses to a worker. */
export interface RunSpec {
  runId: number;
  method: Method;
  params: RunParams;
  model: { id: number; name: string; dir: string };
  classSet: {
    id: number;
    name: string;
    template: string;
    contextInit: string;
    classes: { name: string; prompt: string | null }[];
  };
}

/** Classifies one image with a run's settings. Must reject promptly (with any error) when signal aborts. */
export type ProcessImage = (
  imageAbsPath: string,
  params: RunParams,
  signal: AbortSignal,
) => Promise<ImageResult>;

/** What processes a run's images: typically an engine host with the run's model and classes loaded. */
export interface ImageProcessor {
  processImage: ProcessImage;
  /** The device in use ('CPU', 'CUDA: ...'), once known. */
  readonly device: string | null;
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
}

/** Computes a class set's zero-shot text features with a model (in an engine worker). */
export type ZeroShotTextOf = (spec: Pick<RunSpec, 'model' | 'classSet'>) => Promise<ZeroShotText>;

/** Opens the processor for one run; the executor closes it when the run stops. */
export type OpenProcessor = (run: RunSpec) => Promise<ImageProcessor>;
