// Runs as the API and the store know them: what a run processes, the settings it was asked for, its
// state and progress, and its evaluation against labels.
import type { AdaptMethod } from './adaptation.js';
import type { LabelKind, PairedComparison } from './evaluation.js';

/** What a run processes. 'uncertain': images whose zero-shot entropy in an earlier run is high. */
export type RunScope =
  | { kind: 'collection' }
  | { kind: 'images'; imageIds: number[] }
  | { kind: 'uncertain'; baseRunId: number; minZeroShotEntropy: number };

/** Method settings chosen for a run (steps, learning rate, view count, entropy threshold, ...). */
export interface RunParams {
  [key: string]: unknown;
}

export type RunStatus = 'queued' | 'running' | 'paused' | 'cancelled' | 'done' | 'failed';

export const RUN_ITEM_STATES = ['pending', 'done', 'failed'] as const;
export type RunItemState = (typeof RUN_ITEM_STATES)[number];

export interface Run {
  id: number;
  collectionId: number;
  classSetId: number;
  modelId: number;
  method: AdaptMethod;
  params: RunParams;
  /** The scope as requested; an explicit image list is summarised by its length. */
  scope: Record<string, unknown>;
  /** The run this one is a layer on (its results replace the base's for the images it covers). */
  baseRunId: number | null;
  /** The name the user gave the run; null for none. */
  name: string | null;
  /** The class set's prompt version the run scored with; null for runs from before versions. */
  promptVersion: number | null;
  /** Milliseconds spent running, without pauses and stops; null for runs from before it was kept. */
  activeMs: number | null;
  status: RunStatus;
  total: number;
  done: number;
  failed: number;
  device: string | null;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface RunItem {
  imageId: number;
  relPath: string;
  state: RunItemState;
  error: string | null;
  attempts: number;
}

export interface RunProgress {
  runId: number;
  status: RunStatus;
  total: number;
  done: number;
  failed: number;
  /** Images per second over the recent completions of this session. */
  rate: number;
  /** Seconds until the run is through at the current rate; null while unknown. */
  etaSeconds: number | null;
  /** Relative path of the image most recently started. */
  currentImage: string | null;
  /** The device the images are processed on, as the processor reports it; null until known. */
  device: string | null;
  /** Scale-out: the worker processes that returned results in this session, each with its rate. */
  workers?: WorkerProgress[];
}

/** Throughput of one worker in a run (scale-out): who it is and what it did in this session. */
export interface WorkerProgress {
  /** host:pid of the worker process. */
  id: string;
  host: string;
  device: string;
  done: number;
  /** Images per second over its recent completions. */
  rate: number;
}

/** A setting as a run used it: the preset's and defaults' values filled in. */
export type SettingValue = number | string | boolean | null;

/** A run with what it is in full: every setting it ran with, its model's and class set's names. */
export interface RunInfo extends Run {
  /** Every setting that means something for the method, in a stable order (none for zero-shot). */
  settings: Record<string, SettingValue>;
  modelName: string | null;
  classSetName: string | null;
}

export interface RunEvaluation {
  runId: number;
  method: AdaptMethod;
  /** Which labels were the truth. */
  against: LabelKind;
  /** Images the run has a result for. */
  results: number;
  /** Of those, images with a label of that kind: the images compared. */
  labelled: number;
  /**
   * Labelled images left out because the run's learned prompt (CoOp, Self-TPT, CoOp init) was trained
   * on their labels: scoring a prompt on its own training labels would flatter it. The labels it held
   * out for validation stay in.
   */
  trainedOn: number;
  /** Of the labelled images, those the run adapted (the rest kept their zero-shot result). */
  adapted: number;
  /** The run against its zero-shot predictions on the labelled images; null when there are none. */
  comparison: PairedComparison | null;
  /**
   * Compute time per image (the engine's timed phases; decoding the file is not timed), median over
   * the run's timed results, and the median time of the zero-shot part (encoding the original image)
   * of the same results. Null when no result was timed (re-scored from cached features).
   */
  time: { timedImages: number; msPerImage: number; zeroShotMsPerImage: number | null } | null;
}
