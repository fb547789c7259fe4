// Prompts learned from reviewed labels (CoOp, Self-TPT) as the API and the store know them: what a
// stored learned prompt says about itself, and what a learning job reports while it runs.

export type LearnedPromptMethod = 'coop' | 'selftpt';

export interface LearnedPromptAccuracy {
  trainBefore: number;
  trainAfter: number;
  /** Null when too few labels were given to hold any out. */
  validationBefore: number | null;
  validationAfter: number | null;
}

/** What the lists show: everything but the vectors and the label list. */
export interface LearnedPromptSummary {
  id: number;
  classSetId: number;
  modelId: number;
  version: number;
  method: LearnedPromptMethod;
  template: string;
  classNames: string[];
  nCtx: number;
  settings: Record<string, unknown>;
  labelCount: number;
  heldOutCount: number;
  accuracy: LearnedPromptAccuracy;
  history: Record<string, unknown>[];
  /** For each context position, the vocabulary tokens nearest to its vector. */
  nearestTokens: string[][];
  createdAt: number;
}

/** What a learn job reports while it runs: encoding the labelled images, then epochs of training. */
export interface LearnProgress {
  phase: 'encode' | 'train';
  done: number;
  total: number;
  trainAccuracy?: number;
  validationAccuracy?: number | null;
}

/** What a Self-TPT stage-2 job reports while it runs: CPT steps done of all. */
export interface Stage2Progress {
  done: number;
  total: number;
}

/**
 * Whether a class set's Self-TPT adaptation (stage 2 of the Self-TPT prompt it uses, on its current
 * classes) is there: 'ready' (cached, or the prompt was learned for exactly these classes), 'queued'
 * or 'running' (a background job), 'stale' (the classes changed since; a run computes it first),
 * 'failed' (the last job's error is given).
 */
export type Stage2State = 'ready' | 'queued' | 'running' | 'stale' | 'failed';

export interface Stage2Status {
  classSetId: number;
  modelId: number;
  /** The Self-TPT prompt the class set's runs use under the model (its own, or the newest of any set). */
  learnedPromptId: number;
  learnedPromptVersion: number;
  /** The class set the prompt was learned on. */
  learnedOnClassSetId: number;
  state: Stage2State;
  progress: Stage2Progress | null;
  error: string | null;
}
