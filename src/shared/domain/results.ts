// What a run recorded for an image, and everything known about one image, as the API returns them.
import type { ImageRecord } from './library.js';
import type { ImportedLabelRecord, Label, LabelHistoryEntry } from './labels.js';
import type { Run } from './runs.js';

export interface StoredView {
  viewIndex: number;
  theta: number[];
  entropy: number;
  selected: boolean;
}

export interface Prediction {
  runId: number;
  imageId: number;
  label: number;
  confidence: number;
  probs: Float32Array;
  zeroShotLabel: number;
  zeroShotProbs: Float32Array;
  entropy: number;
  zeroShotEntropy: number;
  adapted: boolean;
  losses: Record<string, number[]> | null;
  timings: Record<string, number>;
  createdAt: number;
}

export interface AdaptedPrompt {
  ctx: { shape: number[]; data: Float32Array };
  nearestTokens: string[][] | null;
}

export interface ImageDetail {
  image: ImageRecord;
  collection: { id: number; name: string; root: string };
  /** Absolute path of the file (for the main process; the renderer gets it through the image protocol). */
  absPath: string;
  /** One entry per run that has a result for the image, oldest first. */
  results: {
    run: Pick<Run, 'id' | 'method' | 'status' | 'classSetId' | 'modelId' | 'params' | 'createdAt'>;
    prediction: Prediction;
    adaptedPrompt: AdaptedPrompt | null;
    views: StoredView[];
  }[];
  /** The current decision and its history, per class set. */
  /** Per class set: the expert's decision with its history, and the label imported from a file. */
  labels: {
    classSetId: number;
    label: Label | null;
    imported: ImportedLabelRecord | null;
    history: LabelHistoryEntry[];
  }[];
}
