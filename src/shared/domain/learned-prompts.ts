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
