// The expert's decisions, and labels imported from a file, as the API and the store know them. The two
// are kept apart: an imported label is ground truth made elsewhere (for evaluation, export, and shown
// as a hint while reviewing); a decision is the expert's own; neither overwrites the other.

export type Decision = 'label' | 'reject' | 'skip';

/** Who made a decision: the expert by hand, or the expert accepting a run's prediction. */
export type LabelSource = 'human' | 'accepted';

/** A decision about one image under one class set. */
export interface LabelState {
  decision: Decision;
  /** The class given, when decision is 'label'. */
  classOrdinal: number | null;
  /** The predicted class the expert rejected, when decision is 'reject'. */
  rejectedOrdinal: number | null;
  source: LabelSource;
  /** The run whose prediction was accepted or rejected. */
  runId: number | null;
  createdAt: number;
}

export interface Label extends LabelState {
  imageId: number;
  classSetId: number;
}

export interface LabelAction {
  id: number;
  kind: string;
  undone: boolean;
  createdAt: number;
  imageCount: number;
}

export interface LabelHistoryEntry {
  actionId: number;
  kind: string;
  undone: boolean;
  createdAt: number;
  before: LabelState | null;
  after: LabelState | null;
}

/** A label read from a file for one image under one class set (a re-import replaces it). */
export interface ImportedLabelRecord {
  imageId: number;
  classSetId: number;
  classOrdinal: number;
  /** When it was imported, ms since the epoch. */
  importedAt: number;
}
