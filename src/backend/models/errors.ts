export type ModelManagerErrorKind =
  | 'invalid-model' // the files are not a usable CLIP model
  | 'exists' // a model with this id is already installed
  | 'not-found' // the hub has no such model or file
  | 'access-denied' // gated or private model
  | 'http' // any other unexpected HTTP status
  | 'network' // connection failed or broke off; the partial download is kept for resuming
  | 'checksum' // content does not match its sha256; the partial download was deleted
  | 'cancelled';

/** A model import or download failed; `kind` says how, the message says what and where. */
export class ModelManagerError extends Error {
  constructor(
    readonly kind: ModelManagerErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ModelManagerError';
  }
}
