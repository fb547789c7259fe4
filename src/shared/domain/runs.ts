// Runs as the API and the store know them: what a run processes and the settings it was asked for.

/** What a run processes. 'uncertain': images whose zero-shot entropy in an earlier run is high. */
export type RunScope =
  | { kind: 'collection' }
  | { kind: 'images'; imageIds: number[] }
  | { kind: 'uncertain'; baseRunId: number; minZeroShotEntropy: number };

/** Method settings chosen for a run (steps, learning rate, view count, entropy threshold, ...). */
export interface RunParams {
  [key: string]: unknown;
}
