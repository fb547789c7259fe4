// The expert's decisions as the API and the store know them.

export type Decision = 'label' | 'reject' | 'skip';

export type LabelSource = 'human' | 'accepted' | 'imported';

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
